"""The attention equations as one 2-D matmul: same values and gradients, one MatMul per gradient."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfllm  # noqa: F401  applies the flattened einsum
from tfllm.models import flat_einsum

CASES = [("abc,cde->abde", (3, 5, 8), (8, 2, 4)), ("abcd,cde->abe", (3, 5, 2, 4), (2, 4, 8)),
         ("bqm,muh->bquh", (3, 5, 8), (8, 2, 4))]  # keras-hub Llama's letters, normalized


@pytest.mark.parametrize("equation,x_shape,kernel_shape", CASES)
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_values_and_gradients_equal_tf_einsum(equation, x_shape, kernel_shape, dtype):
    rng = np.random.default_rng(0)
    x = tf.cast(rng.normal(size=x_shape), dtype)
    kernel = tf.Variable(rng.normal(size=kernel_shape).astype(np.float32))
    # Unknown batch and position sizes, as in a model traced for any batch.
    spec = tf.TensorSpec([None, None] + list(x_shape[2:]), dtype)

    def loss_and_gradients(einsum):
        @tf.function(input_signature=[spec])
        def run(inputs):
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                y = einsum(equation, inputs, tf.cast(kernel, dtype))
                loss = tf.reduce_sum(tf.cast(y, tf.float32) ** 2)
            return (y,) + tuple(tape.gradient(loss, [inputs, kernel]))
        return [np.asarray(tf.cast(t, tf.float32)) for t in run(x)]

    tolerance = 1e-5 if dtype == "float32" else 5e-2
    for ours, reference in zip(loss_and_gradients(flat_einsum.einsum),
                               loss_and_gradients(tf.einsum), strict=True):
        assert ours.shape == reference.shape
        np.testing.assert_allclose(ours, reference, rtol=tolerance, atol=tolerance)


def test_kernel_gradient_is_one_matmul_without_a_batch_sum():
    kernel = tf.Variable(tf.ones([8, 2, 4]))

    @tf.function(input_signature=[tf.TensorSpec([None, None, 8])])
    def kernel_gradient(inputs):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(keras.ops.einsum("abc,cde->abde", inputs, kernel))
        return tape.gradient(loss, kernel)

    graph = kernel_gradient.get_concrete_function().graph
    types = [op.type for op in graph.get_operations()]
    assert "BatchMatMulV2" not in types and types.count("MatMul") == 2  # forward + gradient
    assert keras.layers.EinsumDense("abc,cde->abde", (None, 2, 4))(tf.ones([1, 3, 8])).shape == (
        1, 3, 2, 4)


def test_other_equations_and_integers_go_to_keras():
    x = tf.constant(np.arange(6, dtype=np.int8).reshape(1, 2, 3))
    kernel = tf.constant(np.ones((3, 2, 2), np.int8))
    assert flat_einsum.einsum("abc,cde->abde", x, kernel).dtype == tf.int32  # Keras' int8 path
    a = tf.ones([2, 3])
    np.testing.assert_allclose(flat_einsum.einsum("ab,cb->ac", a, a), np.full((2, 2), 3.0))
