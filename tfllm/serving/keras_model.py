"""A Keras model that takes raw strings, written as a TF Serving model version.

For models built outside a run (say with `tfllm.models.bert` and a
`TextClassifierPreprocessor`): the model's own graph, tokenization included,
is the serving function; `tfllm export --model=FILE.keras` calls `export`.
"""

import os
import tempfile

import numpy as np
import tensorflow as tf

from tfllm.errors import TfllmError
from tfllm.models import keras_file
from tfllm.serving import writer
from tfllm.serving.untracked import Untracked

WARMUP_TEXTS = ["What is AI?", ""]
INPUT_NAMES = ("text", "text_pair")


class KerasModelModule(tf.Module):
    """`serving_default` over a Keras model from raw strings to class probabilities.

    Args:
        model: a Keras model with one string input (`text`) or two (`text`,
            `text_pair`) of shape (batch,), and one output, (batch, classes)
            probabilities.
        labels: class names, index = class id; None serves ids only.

    Example:
    >>> module = KerasModelModule(model, labels=["food", "sport"])  # doctest: +SKIP
    >>> tf.saved_model.save(module, path, signatures=module.signatures())  # doctest: +SKIP
    """

    def __init__(self, model, labels=None):
        super().__init__(name="tfllm_keras_model")
        check_model(model, labels)
        # As in the task serving modules: the Keras model stays untracked and its
        # variables are tracked once, as the plain tf.Variables the traced function reads.
        self._model = Untracked(model)
        self.model_variables = [variable.value for variable in model.variables]
        self.input_names = INPUT_NAMES[:len(model.inputs)]
        self._labels = None if labels is None else tf.constant(list(labels), tf.string)

    def serve(self, *texts):
        inputs = texts[0] if len(texts) == 1 else list(texts)
        probabilities = tf.cast(self._model.value(inputs, training=False), tf.float32)
        label_id = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        outputs = {"probabilities": probabilities, "label_id": label_id}
        if self._labels is not None:
            outputs["label"] = tf.gather(self._labels, label_id)
        return outputs

    def signatures(self):
        """Returns the concrete functions to save, by signature name."""
        specs = [tf.TensorSpec([None], tf.string, name=name) for name in self.input_names]
        return {"serving_default": tf.function(self.serve).get_concrete_function(*specs)}

    def warmup_requests(self):
        """One `serving_default` request on WARMUP_TEXTS."""
        return [("serving_default", {name: np.array(WARMUP_TEXTS, dtype=object)
                                     for name in self.input_names})]


def check_model(model, labels=None):
    """TfllmError unless `model` takes 1 or 2 string inputs and gives one (batch, classes)
    output, with one label per class when `labels` are given."""
    inputs = model.inputs or []
    if not 1 <= len(inputs) <= 2 or any(tensor.dtype != "string" for tensor in inputs):
        found = ", ".join(f"{tensor.name}: {tensor.dtype}" for tensor in inputs) or "none"
        raise TfllmError(f"{model.name} takes inputs ({found}); exported Keras models take "
                         "raw strings: one input (text) or two (text, text_pair)")
    outputs = model.outputs or []
    if len(outputs) != 1 or len(outputs[0].shape) != 2:
        found = ", ".join(str(tuple(tensor.shape)) for tensor in outputs) or "none"
        raise TfllmError(f"{model.name} has outputs of shapes {found}; exported Keras models "
                         "give one (batch, classes) tensor of probabilities")
    classes = outputs[0].shape[-1]
    if labels is not None and len(labels) != classes:
        raise TfllmError(f"{len(labels)} labels given, but {model.name} gives {classes} "
                         "probabilities per text")


def load(path):
    """The Keras model in the .keras file `path` (safe mode), uncompiled; a TfllmError naming
    the file when it is missing, damaged or not a model."""
    if not path.endswith(".keras") or not os.path.isfile(path):
        raise TfllmError(f"{path}: not a .keras file")
    return keras_file.load(path)


def export(model, export_dir, version=None, labels=None):
    """Writes `model` (a Keras model or a .keras path) as TF Serving version
    EXPORT_DIR/<version>/ (default: the next free one); returns its path.

    `serving_default` takes `text` (and `text_pair` for a two-input model),
    string [None], and returns `probabilities`, `label_id` and, with `labels`,
    `label`. assets/ holds the labels (labels.txt) and the vocabulary of the model's
    tokenizer (vocab.txt), for reference: the graph does not read them.
    """
    if version is not None:  # checked again under the lock; here before the slow load
        writer.check_free(export_dir, int(version))
    model = load(model) if isinstance(model, str) else model
    module = KerasModelModule(model, labels)
    with tempfile.TemporaryDirectory() as sources:
        vocabulary = _vocabulary(model)
        if vocabulary is not None:
            module.vocabulary_file = _asset(sources, "vocab.txt", vocabulary)
        if labels is not None:
            module.labels_file = _asset(sources, "labels.txt", labels)
        return writer.write_version(module, module.warmup_requests(), export_dir, version)


def _vocabulary(model):
    """The vocabulary of the first layer of `model` with a keras-hub tokenizer (say a
    TextClassifierPreprocessor), or None."""
    for layer in model.layers:
        tokenizer = getattr(layer, "tokenizer", None)
        if hasattr(tokenizer, "get_vocabulary"):
            return tokenizer.get_vocabulary()
    return None


def _asset(directory, name, lines):
    """A tf.saved_model.Asset of `lines` written to directory/name, one per line."""
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(f"{line}\n" for line in lines))
    return tf.saved_model.Asset(path)
