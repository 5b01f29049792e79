"""BERT backbone from a named size or explicit dimensions, on keras-hub's BertBackbone."""

import keras
import keras_hub

from tfllm.models.sizes import backbone_dims


def backbone_kwargs(model_config, vocabulary_size, max_sequence_length):
    """Returns the BertBackbone constructor arguments a config resolves to.

    These are written into the saved config.json, so a run states the exact
    shape it trained, whatever named size it started from.
    """
    return {
        "vocabulary_size": vocabulary_size,
        **backbone_dims(model_config.size, model_config.backbone),
        "dropout": model_config.backbone.dropout,
        "max_sequence_length": max_sequence_length,
    }


def build_backbone(kwargs, dtype=None):
    """Builds a randomly initialised BertBackbone from `backbone_kwargs`' result."""
    return keras_hub.models.BertBackbone(**kwargs, dtype=dtype)


def add_l2(model, l2):
    """Adds an L2 penalty of strength `l2` on every kernel (dense and attention weights).

    keras-hub layers take no regularizer arguments, so the penalty is set on the
    built variables; Keras adds it to the loss through `model.losses`.
    """
    if not l2:
        return
    regularizer = keras.regularizers.L2(l2)
    for variable in model.trainable_variables:
        if variable.name == "kernel":
            variable.regularizer = regularizer
