"""Backbones from Keras formats: a `.keras` file, a finished tfllm run, a keras-hub preset.

A `.keras` file can name Python code to run while it loads (a serialized
lambda). Keras' safe mode refuses that; tfllm keeps it on unless the user sets
`model.init_unsafe`, and says so in the error.
"""

import os

import keras_hub
import ml_collections

from tfllm.errors import DataError
from tfllm.models import keras_file
from tfllm.models import sources
from tfllm.models.sources import FLAG
from tfllm.models.transfer import WeightReport
from tfllm.workdir import Paths

PRESET_WEIGHTS = "model.weights.h5"  # keras-hub's preset_utils.MODEL_WEIGHTS_FILE


def model_file(source):
    """The .keras file a keras_file or workdir Source holds."""
    return source.path if source.kind == "keras_file" else Paths(source.path).model


def load_model(source, unsafe=False):
    """Loads the Keras model of a keras_file or workdir Source, uncompiled.

    Raises:
        DataError: the file needs arbitrary code and `unsafe` is False, or
            it is damaged, or Keras cannot read it.
    """
    path = model_file(source)
    try:
        return keras_file.load(path, safe_mode=not unsafe)
    except keras_file.NeedsCode as error:
        raise DataError(
            f"{FLAG}: {error}. Loading it could run anything, so it is refused; if you trust "
            "the file, set --config.model.init_unsafe=True") from error
    except DataError as error:
        raise DataError(f"{FLAG}: {error}") from error


def find_backbone(model, backbone_classes, path):
    """The keras-hub backbone of one of `backbone_classes` in `model` (or `model` itself)."""
    candidates = [model, getattr(model, "backbone", None), *getattr(model, "layers", [])]
    for layer in candidates:
        if isinstance(layer, backbone_classes):
            return layer
    names = ", ".join(c.__name__ for c in backbone_classes)
    raise DataError(f"{FLAG}: {path} holds a {type(model).__name__} with no {names} in it")


def rebuild(backbone, cls=None, **overrides):
    """A fresh copy of `backbone` (same weights; class `cls`, default its own) with config
    `overrides` (e.g. dropout)."""
    copy = (cls or type(backbone)).from_config({**backbone.get_config(), **overrides})
    copy.set_weights(backbone.get_weights())
    return copy


def preset_backbone(backbone_cls, source, dropout):
    """(backbone, WeightReport) of a keras-hub preset directory, with `dropout` in its layers.

    The weights are HDF5, which has no checksum: a damaged file is found where its structure
    breaks (h5py's OSError or RuntimeError, or a KeyError for a dataset whose name changed);
    flipped bytes in the weights themselves load as other weights.
    """
    weights = os.path.join(source.path, PRESET_WEIGHTS)
    try:
        backbone = backbone_cls.from_preset(source.path, dropout=dropout)
    except (OSError, ValueError, KeyError, RuntimeError) as error:  # missing, cut short, emptied
        raise DataError(f"{FLAG}: {weights}: keras-hub could not load the preset's weights "
                        f"({type(error).__name__}: {error}); expected the HDF5 weights file "
                        "that save_to_preset wrote (copy or download it again)") from error
    return backbone, WeightReport(source.origin, len(backbone.weights), [])


def run_config(source, task, starts_from):
    """The resolved config of a workdir Source's run, read before its model is loaded.

    Raises:
        DataError: the run trained another task than `task`, whose runs start
            from `starts_from` ("an encoder", "a decoder").
    """
    run = ml_collections.ConfigDict(sources.read_json(Paths(source.path).config))
    if run.task != task:
        raise DataError(f"{FLAG}: {source.origin} is a {run.task} run; "
                        f"{task.replace('_', ' ')} starts from {starts_from}")
    return run


def report(model, backbone, origin):
    """What taking `backbone` out of `model` kept and left behind (e.g. the old task head)."""
    kept = {id(w) for w in backbone.weights}
    return WeightReport(source=origin, loaded=len(backbone.weights),
                        unused=[w.path for w in model.weights if id(w) not in kept])


def preprocessor_tokenizer(model):
    """The keras-hub tokenizer a saved task carries in its preprocessor, or None."""
    preprocessor = getattr(model, "preprocessor", None)
    tokenizer = getattr(preprocessor, "tokenizer", None)
    return tokenizer if isinstance(tokenizer, keras_hub.tokenizers.Tokenizer) else None
