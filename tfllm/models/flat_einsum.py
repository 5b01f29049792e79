"""Attention projections as one 2-D matmul, so their kernel gradient is one matmul too.

Keras' TensorFlow backend computes the EinsumDense equations of multi-head
attention ("abc,cde->abde" for the query, key and value projections,
"abcd,cde->abe" for the output projection) as a 3-D x 2-D `tf.matmul`, which
is a broadcasting BatchMatMulV2. Its gradient with respect to the kernel is
then one small matmul per example (contracting only that example's
positions) followed by a sum over the batch: a [batch, in, out] temporary
and matmuls too thin to run fast, worst for short sequences. Folding batch
and positions into one axis first makes the same product a plain 2-D MatMul
whose kernel gradient is a single matmul over every position of the batch.

Measured in a profile of the default classifier's training step (bucketed
batches about 16 tokens wide), the per-example products and their sums took
about a third of the step (BENCHMARKS.md). keras-hub's BERT, GPT-2 and Llama
attention all use these two equations. Other equations, integer (quantized)
operands and keyword arguments go to Keras' own implementation unchanged.
"""

import contextlib

import tensorflow as tf
from keras.src.backend.tensorflow import numpy as tf_numpy
from keras.src.backend.common import dtypes

_KERAS_EINSUM = tf_numpy.einsum
# Normalized equation -> number of leading input axes kept in the output (batch, position).
_FLATTENED = {"abc,cde->abde": 2, "abcd,cde->abe": 2}


def einsum(subscripts, *operands, **kwargs):
    """Keras' backend einsum, with the attention equations as one 2-D matmul."""
    equation = tf_numpy._normalize_einsum_subscripts(subscripts)  # pylint: disable=protected-access
    if equation not in _FLATTENED or len(operands) != 2 or kwargs:
        return _KERAS_EINSUM(subscripts, *operands, **kwargs)
    x, kernel = (tf.convert_to_tensor(operand) for operand in operands)
    dtype = dtypes.result_type(x.dtype, kernel.dtype)
    if not kernel.shape.is_fully_defined() or not tf.as_dtype(dtype).is_floating:
        return _KERAS_EINSUM(subscripts, *operands, **kwargs)
    kept = _FLATTENED[equation]
    contracted = x.shape[kept:]  # the kernel's leading axes: c (or c, d)
    inner = int(kernel.shape[:len(contracted)].num_elements())
    outer = kernel.shape[len(contracted):]
    product = tf.matmul(tf.reshape(tf.cast(x, dtype), [-1, inner]),
                        tf.reshape(tf.cast(kernel, dtype), [inner, -1]))
    result = tf.reshape(product, tf.concat([tf.shape(x)[:kept], outer.as_list()], axis=0))
    result.set_shape(x.shape[:kept].concatenate(outer))
    return result


def apply():
    """Routes Keras' TensorFlow-backend einsum through `einsum`; idempotent."""
    tf_numpy.einsum = einsum


@contextlib.contextmanager
def disabled():
    """Keras' own einsum for models traced inside the block (the benchmarks' plain Keras
    baselines); the flattened one again after it."""
    previous = tf_numpy.einsum
    tf_numpy.einsum = _KERAS_EINSUM
    try:
        yield
    finally:
        tf_numpy.einsum = previous
