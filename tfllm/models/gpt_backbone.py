"""GPT decoder from a named size or explicit dimensions, on keras-hub's GPT2 classes.

The causal LM is keras-hub's GPT2CausalLM without a preprocessor: tfllm's own
pipeline tokenizes and packs, and `tfllm.generation` drives the decoding.
Input and output embeddings are tied (GPT2Backbone's ReversibleEmbedding).
"""

import keras_hub

from tfllm.models.sizes import gpt_dims


def backbone_kwargs(model_config, vocabulary_size):
    """Returns the GPT2Backbone constructor arguments a (resolved) config describes."""
    return {
        "vocabulary_size": vocabulary_size,
        **gpt_dims(model_config.size, model_config.backbone),
        "dropout": model_config.backbone.dropout,
        "max_sequence_length": model_config.backbone.max_sequence_length,
    }


def build_causal_lm(kwargs, dtype=None):
    """Returns a randomly initialised GPT2CausalLM (logits over the vocabulary)."""
    backbone = keras_hub.models.GPT2Backbone(**kwargs, dtype=dtype)
    return keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
