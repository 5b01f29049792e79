"""Task heads on a backbone."""

import keras
import keras_hub

from tfllm.models.pooling import MaskedMeanPooling
from tfllm.tasks.classification.checks import POOLINGS


def build_classifier(backbone, num_classes, dropout, pooling="cls"):
    """Returns a sequence classifier over `backbone`, taking the standard BERT features.

    Args:
        backbone: a keras-hub BertBackbone.
        num_classes: output width (logits).
        dropout: dropout rate before the output layer.
        pooling: "cls" is keras-hub's BertTextClassifier ([CLS] -> tanh dense
            -> dropout -> logits), the head pretrained BERTs expect; "mean"
            averages the non-padding token vectors instead, which learns much
            faster when the encoder itself is trained from scratch.

    Both are built without a preprocessor: tfllm cleans and tokenizes in
    tf.data (and, on export, in the serving graph).
    """
    if pooling == "cls":
        return keras_hub.models.BertTextClassifier(
            backbone, num_classes, preprocessor=None, dropout=dropout)
    if pooling != "mean":
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    inputs = {
        "token_ids": keras.Input((None,), dtype="int32", name="token_ids"),
        "segment_ids": keras.Input((None,), dtype="int32", name="segment_ids"),
        "padding_mask": keras.Input((None,), dtype="bool", name="padding_mask"),
    }
    # The [CLS] pooler gets no gradient under mean pooling; freezing it keeps
    # the optimizer from warning about (and decaying) weights that do nothing.
    backbone.get_layer("pooled_dense").trainable = False
    sequence = backbone(inputs)["sequence_output"]
    pooled = MaskedMeanPooling(name="mean_pooling")((sequence, inputs["padding_mask"]))
    pooled = keras.layers.Dropout(dropout, name="head_dropout")(pooled)
    logits = keras.layers.Dense(num_classes, name="logits", dtype="float32")(pooled)
    return keras.Model(inputs, logits, name="bert_mean_pooling_classifier")
