"""Extractive QA on a BERT backbone: start and end logits per position, their loss and metric.

Labels are (start, end) token positions, one pair per window
(`tfllm.tasks.span_qa.windows`): position 0 ([CLS]) for both when the window does not
hold the answer, so "no answer here" is learned like any other span.
"""

import keras
from keras import ops

from tfllm.models import token_head


def build_span_model(backbone, dropout):
    """Returns a model mapping BERT features to start and end logits, (batch, seq, 2).

    Args:
        backbone: a keras-hub BertBackbone.
        dropout: dropout rate on the token vectors before the span layer.

    Example:
    >>> import keras_hub
    >>> backbone = keras_hub.models.BertBackbone(
    ...     vocabulary_size=20, num_layers=1, num_heads=2, hidden_dim=8,
    ...     intermediate_dim=16, max_sequence_length=6)
    >>> tuple(build_span_model(backbone, dropout=0.1).output.shape)
    (None, None, 2)
    """
    # [..., 0] start logits, [..., 1] end logits
    return token_head.per_token_model(backbone, 2, dropout, "span_logits", "bert_span_qa")


def _start_end(y_true, y_pred):
    """(start labels, end labels, start logits, end logits) of (batch, 2) and (batch, seq, 2)."""
    y_true = ops.cast(y_true, "int32")
    return y_true[:, 0], y_true[:, 1], y_pred[:, :, 0], y_pred[:, :, 1]


@keras.saving.register_keras_serializable(package="tfllm")
class SpanLoss(keras.losses.Loss):
    """Mean of the cross-entropies of the start and of the end position (from logits).

    Example:
    >>> import numpy as np
    >>> logits = np.zeros((1, 4, 2), "float32")
    >>> round(float(SpanLoss()(np.array([[1, 2]]), logits)), 4)  # uniform: log(4)
    1.3863
    """

    def __init__(self, name="span_loss", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        start, end, start_logits, end_logits = _start_end(y_true, y_pred)
        return 0.5 * (
            keras.losses.sparse_categorical_crossentropy(start, start_logits, from_logits=True)
            + keras.losses.sparse_categorical_crossentropy(end, end_logits, from_logits=True))


@keras.saving.register_keras_serializable(package="tfllm")
class SpanAccuracy(keras.metrics.Mean):
    """Share of start and end positions (two per window) whose highest logit is the label.

    Example:
    >>> import numpy as np
    >>> logits = np.array([[[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]])
    >>> metric = SpanAccuracy()
    >>> metric.update_state(np.array([[0, 2]]), logits)
    >>> float(metric.result())
    0.5
    """

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        start, end, start_logits, end_logits = _start_end(y_true, y_pred)
        hits = [ops.cast(ops.equal(ops.cast(ops.argmax(logits, axis=-1), "int32"), label),
                         self.dtype)
                for label, logits in ((start, start_logits), (end, end_logits))]
        correct = ops.stack(hits, axis=-1)  # (batch, 2)
        if sample_weight is not None:
            sample_weight = ops.repeat(ops.expand_dims(ops.cast(sample_weight, self.dtype), -1),
                                       2, axis=-1)
        return super().update_state(correct, sample_weight=sample_weight)
