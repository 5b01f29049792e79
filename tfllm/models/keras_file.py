"""Loading `.keras` files, a damaged one being a DataError that names it.

A .keras file is a zip archive (config.json, metadata.json, model.weights.h5).
Keras reports a truncated or emptied one as "File not found" and a flipped byte
as a bare zipfile.BadZipFile; here every member is checked against its CRC-32
first (`damaged.check_zip`), so damage anywhere in the weights is found before
Keras reads them. A run's model.keras is also checked against the tokenizer
files beside it (`load_run`): a vocab.txt or labels.txt cut short still reads,
but no longer fits the model.
"""

import os
import warnings

import keras
import keras_hub

from tfllm import damaged
from tfllm.errors import DataError

EXPECTED = "a .keras model file: a zip archive of config.json, metadata.json, model.weights.h5"


class NeedsCode(DataError):
    """The file is intact but Keras' safe mode refuses it: it would run Python code."""


def load(path, safe_mode=True):
    """The Keras model in the .keras file `path`, uncompiled.

    Raises:
        NeedsCode: the file needs arbitrary code (a lambda) and `safe_mode` is on.
        DataError: the file is missing, damaged, or not a model Keras can rebuild here.
    """
    from tfllm import keras_objects  # pylint: disable=import-outside-toplevel
    keras_objects.register()  # the tfllm classes a saved model may name
    if not os.path.isfile(path):
        raise damaged.error(path, "no such file", EXPECTED)
    damaged.check_zip(path, EXPECTED)
    try:
        with warnings.catch_warnings():
            # keras-hub compiles every task it builds, so loading meets a fresh
            # optimizer beside the saved one; only the weights are needed here.
            warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
            return keras.saving.load_model(path, compile=False, safe_mode=safe_mode)
    except (ValueError, TypeError, KeyError, OSError) as error:
        if "safe_mode" in str(error):
            raise NeedsCode(f"{path} needs arbitrary Python code to load ({error})") from error
        # e.g. a custom class not registered in this process: the archive itself is intact
        raise damaged.error(path, "not a Keras model tfllm can read "
                            f"({type(error).__name__}: {error})", EXPECTED) from error


def load_run(paths, config, label_outputs=False):
    """The model.keras of a finished run (`paths`, resolved `config`), checked against the
    tokenizer files the run wrote beside it, which carry no checksum: a file cut short at a
    line end still reads, but no longer fits the model. `label_outputs`: the model's head has
    one output per line of labels.txt (a classifier's, a tagger's)."""
    model = load(paths.model)
    _check_vocabulary(paths, config, model)
    if label_outputs:
        _check_labels(paths, model)
    return model


def _check_vocabulary(paths, config, model):
    """vocab.txt or vocab.json holds one token per token embedding (at most as many, for a run
    that started from a pretrained checkpoint, whose embedding table may have spare rows);
    tfllm ends every line of vocab.txt and merges.txt with a newline."""
    backbone = next((layer for layer in (model, getattr(model, "backbone", None),
                                         *getattr(model, "layers", []))
                     if isinstance(layer, keras_hub.models.Backbone)), None)
    embeddings = getattr(backbone, "vocabulary_size", None)
    merges = os.path.join(paths.tokenizer, "merges.txt")
    if os.path.isfile(merges):
        damaged.read_lines(merges, "the run's merges.txt", whole_lines=True)
    if os.path.isfile(paths.vocabulary):
        path = paths.vocabulary
        tokens = len(damaged.read_lines(path, "the run's vocab.txt", whole_lines=True))
    elif os.path.isfile(os.path.join(paths.tokenizer, "vocab.json")):
        path = os.path.join(paths.tokenizer, "vocab.json")
        tokens = len(damaged.read_json_object(path, "the run's vocab.json"))
    else:
        return
    pretrained = bool(config.model.get("init_from"))
    if embeddings is not None and (tokens > embeddings or tokens < embeddings and not pretrained):
        raise damaged.error(path, f"{tokens} tokens, but {paths.model} has {embeddings} token "
                            "embeddings; the file is damaged or not this run's",
                            f"{embeddings} tokens, one per embedding")


def _check_labels(paths, model):
    """labels.txt holds one label per output of the head."""
    if not os.path.isfile(paths.labels) or not getattr(model, "outputs", None):
        return
    labels = len(damaged.read_lines(paths.labels, "the run's labels.txt", whole_lines=True))
    outputs = model.outputs[0].shape[-1]
    if labels != outputs:
        raise damaged.error(paths.labels, f"{labels} labels, but the head of {paths.model} has "
                            f"{outputs} outputs; the file is damaged or not this run's",
                            f"{outputs} labels, one per output")
