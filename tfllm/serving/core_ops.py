"""Exports whose graphs need no XLA: keras' cache updates traced as core TensorFlow ops.

Keras' TensorFlow backend writes `ops.slice_update`, which keras-hub's
key/value caches use on every decoding step, as XlaDynamicUpdateSlice, an op
with no kernel outside XLA. tensorflow_model_server runs without XLA's CPU JIT
unless started with --xla_cpu_compilation_enabled, and then answers a model
that contains the op with an error. While an export is traced,
`without_xla_ops` makes the update a scatter, a core op with CPU and GPU
kernels. For the in-range updates the caches make the values are the same;
unlike XLA's op, the scatter does not clamp start indices that would run
past the end (it raises instead).
"""

import contextlib

import tensorflow as tf
from keras.src.backend.tensorflow import core as keras_tf_core


def dynamic_update_slice(inputs, updates, start_indices):
    """`inputs` with `updates` written at `start_indices`, as a scatter (no XLA op)."""
    shape = tf.shape(updates)
    rank = len(updates.shape)
    grid = tf.meshgrid(*[tf.range(shape[axis]) for axis in range(rank)], indexing="ij")
    starts = [tf.cast(start, tf.int32) for start in start_indices]
    indices = tf.stack([g + s for g, s in zip(grid, starts, strict=True)], axis=-1)
    return tf.tensor_scatter_nd_update(inputs, indices, tf.cast(updates, inputs.dtype))


@contextlib.contextmanager
def without_xla_ops():
    """While active, functions traced through Keras update slices with core ops only."""
    original = keras_tf_core.dynamic_update_slice
    keras_tf_core.dynamic_update_slice = dynamic_update_slice
    try:
        yield
    finally:
        keras_tf_core.dynamic_update_slice = original
