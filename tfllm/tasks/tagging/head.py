"""Token classification on a BERT backbone: one tag distribution per position, and its metric.

Labels follow `tfllm.tasks.tagging.alignment`: the first WordPiece of each word
carries the word's tag id, every other position IGNORE_LABEL (-1), which the
loss (`SparseCategoricalCrossentropy(ignore_class=-1)`) and the metric skip.
"""

import keras
from keras import ops

from tfllm.models.token_head import per_token_model
from tfllm.tasks.tagging.alignment import IGNORE_LABEL


def build_token_classifier(backbone, num_tags, dropout):
    """Returns a model mapping BERT features to tag logits, (batch, seq, num_tags).

    Args:
        backbone: a keras-hub BertBackbone.
        num_tags: output width (logits per position).
        dropout: dropout rate on the token vectors before the tag layer.

    Example:
    >>> import keras_hub
    >>> backbone = keras_hub.models.BertBackbone(
    ...     vocabulary_size=20, num_layers=1, num_heads=2, hidden_dim=8,
    ...     intermediate_dim=16, max_sequence_length=6)
    >>> model = build_token_classifier(backbone, num_tags=3, dropout=0.1)
    >>> tuple(model.output.shape)
    (None, None, 3)
    """
    return per_token_model(backbone, num_tags, dropout, "tag_logits", "bert_token_classifier")


@keras.saving.register_keras_serializable(package="tfllm")
class MaskedTokenAccuracy(keras.metrics.Mean):
    """Share of labelled positions whose most likely tag is the label.

    Positions labelled `ignore_class` ([CLS], [SEP], padding, later pieces of a
    word) are not counted, so this is the accuracy of word tags.

    Args:
        ignore_class: the label of positions to skip.
        name, dtype: as for any Keras metric.

    Example:
    >>> import numpy as np
    >>> metric = MaskedTokenAccuracy()
    >>> logits = np.array([[[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]])
    >>> metric.update_state(np.array([[0, 0, -1]]), logits)
    >>> float(metric.result())
    0.5
    """

    def __init__(self, ignore_class=IGNORE_LABEL, name="accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.ignore_class = ignore_class

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        labelled = ops.cast(ops.not_equal(y_true, self.ignore_class), self.dtype)
        if sample_weight is not None:
            labelled = labelled * ops.cast(sample_weight, self.dtype)
        predicted = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
        correct = ops.cast(ops.equal(predicted, y_true), self.dtype)
        return super().update_state(correct, sample_weight=labelled)

    def get_config(self):
        return {**super().get_config(), "ignore_class": self.ignore_class}
