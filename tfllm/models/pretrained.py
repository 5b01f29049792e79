"""Pretrained BERT encoders for classification, from any source `model.init_from` names.

Hugging Face directories go through keras-hub's converter with tfllm's
recording loader (every tensor accounted for); keras-hub preset directories
through keras-hub; `.keras` files and finished tfllm runs through Keras (safe
mode). The checkpoint's WordPiece vocabulary and casing come with it: a
fine-tuned run never re-learns its tokenizer.
"""

import dataclasses
import os

import keras
import keras_hub
from keras_hub.src.utils.transformers import convert_bert

from tfllm.data import tokenizer as tokenizer_lib
from tfllm.data.line_files import read_lines
from tfllm.errors import DataError
from tfllm.models import keras_source
from tfllm.models import sources
from tfllm.models.sources import FLAG
from tfllm.models.transfer import SafetensorsLoader
from tfllm.workdir import Paths

DIMS = ("num_layers", "num_heads", "hidden_dim", "intermediate_dim", "max_sequence_length")


@dataclasses.dataclass
class BertCheckpoint:
    """What a run takes from a pretrained encoder directory.

    Args:
        source: where the checkpoint is (sources.Source).
        vocabulary: the WordPiece tokens, id order.
        lowercase: whether the checkpoint's tokenizer lower-cases (and strips accents).
        dims: num_layers, num_heads, hidden_dim, intermediate_dim, max_sequence_length.
        exact_gelu: the checkpoint computes GELU exactly (Hugging Face "hidden_act":
            "gelu"), where keras-hub's BertBackbone uses the tanh approximation.
    """

    source: sources.Source
    vocabulary: list
    lowercase: bool
    dims: dict
    exact_gelu: bool = False

    @property
    def path(self):
        """The checkpoint as the user named it."""
        return self.source.origin


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


def _huggingface_config(path):
    config = sources.read_json(os.path.join(path, "config.json"))
    if config.get("model_type") != "bert":
        raise DataError(f"{FLAG}: {path}/config.json has model_type "
                        f"{config.get('model_type')!r}; text classification starts from "
                        "BERT-family encoders (model_type 'bert')")
    return config


def _read_directory(source):
    """Hugging Face and keras-hub preset directories: keras-hub reads tokenizer and shape."""
    hf_config = _huggingface_config(source.path) if source.kind == "huggingface" else {}
    try:
        tokenizer = keras_hub.models.BertTokenizer.from_preset(source.path)
        backbone = keras_hub.models.BertBackbone.from_preset(source.path, load_weights=False)
    except KeyError as error:  # a field keras-hub's converter needs (or its name damaged)
        where = (os.path.join(source.path, "config.json") if source.kind == "huggingface"
                 else f"{source.origin} (a keras-hub preset)")
        raise DataError(f"{FLAG}: {where} has no field {error}; expected a BERT checkpoint "
                        "keras-hub can read") from error
    except (ValueError, OSError) as error:
        raise DataError(f"{FLAG}: {source.origin} is not a BERT checkpoint keras-hub can read: "
                        f"{error}") from error
    vocabulary = tokenizer.get_vocabulary()
    vocab_txt = os.path.join(source.path, "vocab.txt")
    if os.path.isfile(vocab_txt):
        vocabulary = read_lines(vocab_txt)
    # BERT checkpoints have one embedding per token; fewer tokens is a file cut at a line end
    if len(vocabulary) != backbone.vocabulary_size:
        where = vocab_txt if os.path.isfile(vocab_txt) else f"{source.origin}'s vocabulary"
        raise DataError(f"{FLAG}: {where} has {len(vocabulary)} tokens but the encoder has "
                        f"{backbone.vocabulary_size} token embeddings; the vocabulary is cut "
                        "short or not this model's (expected one token per embedding)")
    return BertCheckpoint(source, list(vocabulary), bool(tokenizer.lowercase),
                          {key: getattr(backbone, key) for key in DIMS},
                          exact_gelu=hf_config.get("hidden_act") == "gelu")


def _read_keras(source, tokenizer_config, unsafe):
    """A .keras file or tfllm run: the encoder inside it, and its tokenizer."""
    run = (keras_source.run_config(source, "text_classification", "an encoder")
           if source.kind == "workdir" else None)
    model = keras_source.load_model(source, unsafe)
    backbone = keras_source.find_backbone(model, (keras_hub.models.BertBackbone,),
                                          source.origin)
    tokenizer = keras_source.preprocessor_tokenizer(model)
    if run is not None:
        vocabulary = tokenizer_lib.load_vocabulary(Paths(source.path).vocabulary)
        lowercase = run.tokenizer.lowercase
    elif tokenizer is not None:
        vocabulary, lowercase = tokenizer.get_vocabulary(), bool(tokenizer.lowercase)
    elif tokenizer_config is not None and tokenizer_config.vocabulary:
        vocabulary = tokenizer_lib.load_vocabulary(tokenizer_config.vocabulary)
        lowercase = tokenizer_config.lowercase
    else:
        raise DataError(f"{FLAG}: {source.origin} holds no tokenizer; give the vocab.txt it "
                        "was trained with as --config.tokenizer.vocabulary")
    if len(vocabulary) != backbone.vocabulary_size:
        raise DataError(f"{FLAG}: {source.origin}'s encoder has {backbone.vocabulary_size} "
                        f"token embeddings but its vocabulary has {len(vocabulary)} tokens")
    return BertCheckpoint(source, list(vocabulary), bool(lowercase),
                          {key: getattr(backbone, key) for key in DIMS},
                          exact_gelu=isinstance(backbone, ExactGeluBertBackbone))


def read_bert_checkpoint(init_from, tokenizer_config=None, unsafe=False):
    """Reads the vocabulary, casing and dimensions of the encoder `init_from` names.

    Args:
        init_from: anything `sources.locate` accepts.
        tokenizer_config: the run's `tokenizer` config; a bare .keras
            encoder takes its vocabulary file from it.
        unsafe: allow .keras files that need arbitrary code to load.
    """
    source = sources.locate(init_from)
    if source.kind in ("huggingface", "keras_hub_preset"):
        return _read_directory(source)
    if source.kind == "gguf":
        raise DataError(f"{FLAG}: {init_from} is a GGUF decoder; text classification starts "
                        "from an encoder")
    return _read_keras(source, tokenizer_config, unsafe)


def _load_huggingface(checkpoint, dropout):
    """The encoder from a Hugging Face directory, through keras-hub's converter, accounted for."""
    config = _huggingface_config(checkpoint.source.path)
    cls = ExactGeluBertBackbone if checkpoint.exact_gelu else keras_hub.models.BertBackbone
    backbone = cls(**{**convert_bert.convert_backbone_config(config), "dropout": dropout})
    with SafetensorsLoader(checkpoint.source.path, checkpoint.path) as loader:
        convert_bert.convert_weights(backbone, loader, config)
        return backbone, loader.report(backbone.weights, loader.names())


def load_bert_backbone(checkpoint, dropout, unsafe=False):
    """Returns (the pretrained encoder with `dropout` in its layers, its WeightReport).

    A Hugging Face checkpoint with exact GELU gets an ExactGeluBertBackbone,
    so the import computes what the checkpoint did.
    """
    kind = checkpoint.source.kind
    if kind == "huggingface":
        return _load_huggingface(checkpoint, dropout)
    if kind == "keras_hub_preset":
        return keras_source.preset_backbone(keras_hub.models.BertBackbone, checkpoint.source,
                                            dropout)
    model = keras_source.load_model(checkpoint.source, unsafe)
    found = keras_source.find_backbone(model, (keras_hub.models.BertBackbone,), checkpoint.path)
    return (keras_source.rebuild(found, dropout=dropout),
            keras_source.report(model, found, checkpoint.path))
