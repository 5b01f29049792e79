"""Pretrained BERT encoders from local checkpoint directories, loaded offline.

A directory in Hugging Face layout (config.json + model.safetensors +
vocab.txt) or a keras-hub preset directory (metadata.json + config.json +
weights) is read by keras-hub's own converters; nothing is downloaded. The
checkpoint's WordPiece vocabulary and casing come with it: a fine-tuned run
never re-learns its tokenizer.
"""

import dataclasses
import json
import os

import keras
import keras_hub

from tfllm.data.line_files import read_lines
from tfllm.errors import DataError

FLAG = "--config.model.init_from"


@dataclasses.dataclass
class BertCheckpoint:
    """What a run takes from a pretrained encoder directory.

    Args:
        path: the directory.
        vocabulary: the WordPiece tokens, id order.
        lowercase: whether the checkpoint's tokenizer lower-cases (and strips accents).
        dims: num_layers, num_heads, hidden_dim, intermediate_dim, max_sequence_length.
        exact_gelu: the checkpoint computes GELU exactly (Hugging Face "hidden_act":
            "gelu"), where keras-hub's BertBackbone uses the tanh approximation.
    """

    path: str
    vocabulary: list
    lowercase: bool
    dims: dict
    exact_gelu: bool = False


@keras.saving.register_keras_serializable(package="tfllm")
class ExactGeluBertBackbone(keras_hub.models.BertBackbone):
    """keras-hub's BertBackbone with the exact GELU of Hugging Face BERT checkpoints.

    keras-hub builds every BERT with the tanh approximation; on
    all-MiniLM-L6-v2 that moves encoder outputs by up to 0.004. The layers
    are keras-hub's; only the feed-forward activation changes, again on every
    rebuild from config, so a saved model.keras keeps it.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for layer in self.transformer_layers:
            layer.activation = keras.activations.gelu
            layer._feedforward_intermediate_dense.activation = keras.activations.gelu  # pylint: disable=protected-access


def _check_directory(path):
    if not os.path.isdir(path):
        raise DataError(f"{FLAG}: checkpoint directory not found: {path}")
    names = set(os.listdir(path))
    if "metadata.json" in names:  # a keras-hub preset
        return
    if "config.json" not in names:
        raise DataError(f"{FLAG}: {path} has no config.json; expected a Hugging Face model "
                        "directory or a keras-hub preset directory")
    if "model.safetensors" not in names:
        if "pytorch_model.bin" in names:
            raise DataError(
                f"{FLAG}: {path} holds only pytorch_model.bin, a pickle that can run code when "
                "loaded, so it is refused; convert it to model.safetensors first (with "
                "transformers: AutoModel.from_pretrained(DIR).save_pretrained(DIR, "
                "safe_serialization=True))")
        raise DataError(f"{FLAG}: {path} has no model.safetensors")


def read_bert_checkpoint(path):
    """Reads the vocabulary, casing and dimensions of the encoder in `path` (no weights yet)."""
    _check_directory(path)
    try:
        tokenizer = keras_hub.models.BertTokenizer.from_preset(path)
        backbone_config = keras_hub.models.BertBackbone.from_preset(path, load_weights=False)
    except (ValueError, KeyError, OSError) as error:
        raise DataError(f"{FLAG}: {path} is not a BERT checkpoint keras-hub can read: "
                        f"{error}") from error
    vocabulary = tokenizer.get_vocabulary()
    if os.path.isfile(os.path.join(path, "vocab.txt")):
        vocabulary = read_lines(os.path.join(path, "vocab.txt"))
    dims = {key: getattr(backbone_config, key) for key in (
        "num_layers", "num_heads", "hidden_dim", "intermediate_dim", "max_sequence_length")}
    return BertCheckpoint(path, list(vocabulary), bool(tokenizer.lowercase), dims,
                          exact_gelu=_hidden_activation(path) == "gelu")


def _hidden_activation(path):
    """The Hugging Face config's hidden_act ('' for keras-hub presets)."""
    if os.path.isfile(os.path.join(path, "metadata.json")):
        return ""
    with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
        return json.load(f).get("hidden_act", "")


def load_bert_backbone(path, dropout):
    """Returns the pretrained encoder in `path`, with `dropout` in its layers.

    A Hugging Face checkpoint with exact GELU gets an ExactGeluBertBackbone
    holding the same weights, so the import computes what the checkpoint did.
    """
    _check_directory(path)
    backbone = keras_hub.models.BertBackbone.from_preset(path, dropout=dropout)
    if _hidden_activation(path) != "gelu":
        return backbone
    exact = ExactGeluBertBackbone.from_config(backbone.get_config())
    exact.set_weights(backbone.get_weights())
    return exact
