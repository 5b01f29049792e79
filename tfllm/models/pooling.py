"""Masked mean pooling over a sequence: the sentence vector keras-hub's heads lack."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfllm")
class MaskedMeanPooling(keras.layers.Layer):
    """Averages token vectors where `padding_mask` is true.

    On small data a model trained from scratch learns a useful [CLS] vector
    slowly; the mean of the token vectors gives the head every token's
    evidence from the first step (a fastText-like path through the encoder).

    Call arguments:
        inputs: (sequence, padding_mask) with shapes (batch, seq, hidden) and
            (batch, seq).

    Example:
    >>> import numpy as np
    >>> x = np.array([[[1.0], [3.0], [100.0]]])
    >>> mask = np.array([[True, True, False]])
    >>> float(MaskedMeanPooling()((x, mask))[0, 0])
    2.0
    """

    def call(self, inputs):
        sequence, padding_mask = inputs
        mask = ops.expand_dims(ops.cast(padding_mask, sequence.dtype), -1)  # (batch, seq, 1)
        total = ops.sum(sequence * mask, axis=1)  # (batch, hidden)
        count = ops.maximum(ops.sum(mask, axis=1), 1.0)  # (batch, 1)
        return total / count

    def compute_output_shape(self, input_shape):
        sequence_shape, _ = input_shape
        return (sequence_shape[0], sequence_shape[2])
