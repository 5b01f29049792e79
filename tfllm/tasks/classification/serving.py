"""The serving module of a text classifier: raw strings in, probabilities and labels out.

A plain `tf.Module` rather than Keras's `ExportArchive`, which writes every
variable twice (keras-team/keras#23553). Cleaning, WordPiece tokenization and
packing are traced into the graph, so TF Serving (whose builds include the
tensorflow-text ops) needs nothing but the SavedModel directory.
"""

import numpy as np
import tensorflow as tf

from tfllm.serving.untracked import Untracked
from tfllm.workdir import Paths

WARMUP_TEXTS = ["What is AI?", ""]


class ClassifierModule(tf.Module):
    """Serving functions over a trained classifier.

    Args:
        model: the Keras classifier (takes token_ids, segment_ids, padding_mask).
        to_features: a function mapping 1 or 2 string tensors to those features
            (`tfllm.data.pipeline.features_fn`), traced into the graph.
        labels: label names; index = class id.
        pair: whether the model takes a second text segment (`text_pair`).
    """

    def __init__(self, model, to_features, labels, pair=False):
        super().__init__(name="tfllm_classifier")
        # Tracking the Keras model object saves only part of its variables under
        # object paths that TF1-style loaders (TF Serving, saved_model_cli run)
        # cannot restore; tracking it *and* the variables stores each weight
        # twice. So the model stays untracked, and its variables are tracked
        # once, as the plain tf.Variables its traced functions read.
        self._model = Untracked(model)
        self.model_variables = [variable.value for variable in model.variables]
        self.to_features = to_features
        self._labels = tf.constant(labels, tf.string)
        self.pair = pair

    def _logits(self, features):
        return tf.cast(self._model.value(features, training=False), tf.float32)

    def _outputs(self, features):
        logits = self._logits(features)
        probabilities = tf.nn.softmax(logits, axis=-1)
        label_id = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        return {"probabilities": probabilities, "label_id": label_id,
                "label": tf.gather(self._labels, label_id)}

    def serve_text(self, text):
        return self._outputs(self.to_features(text))

    def serve_text_pair(self, text, text_pair):
        return self._outputs(self.to_features(text, text_pair))

    def serve_examples(self, serialized):
        spec = {"text": tf.io.FixedLenFeature([], tf.string)}
        if self.pair:
            spec["text_pair"] = tf.io.FixedLenFeature([], tf.string)
        parsed = tf.io.parse_example(serialized, spec)
        texts = (parsed["text"], parsed["text_pair"]) if self.pair else (parsed["text"],)
        return self._outputs(self.to_features(*texts))

    def serve_token_ids(self, token_ids, segment_ids, padding_mask):
        features = {"token_ids": token_ids, "segment_ids": segment_ids,
                    "padding_mask": padding_mask}
        return {"logits": self._logits(features)}

    def signatures(self):
        """Returns the concrete functions to save, by signature name."""
        text = tf.TensorSpec([None], tf.string, name="text")
        if self.pair:
            default = tf.function(self.serve_text_pair).get_concrete_function(
                text, tf.TensorSpec([None], tf.string, name="text_pair"))
        else:
            default = tf.function(self.serve_text).get_concrete_function(text)
        token_ids = tf.function(self.serve_token_ids).get_concrete_function(
            tf.TensorSpec([None, None], tf.int32, name="token_ids"),
            tf.TensorSpec([None, None], tf.int32, name="segment_ids"),
            tf.TensorSpec([None, None], tf.bool, name="padding_mask"))
        examples = tf.function(self.serve_examples).get_concrete_function(
            tf.TensorSpec([None], tf.string, name="examples"))
        return {"serving_default": default, "serve_examples": examples,
                "serve_token_ids": token_ids}


def classifier_module(classifier):
    """The serving module of a loaded classifier, with its vocabulary and labels as assets."""
    module = ClassifierModule(classifier.model, classifier.to_features, classifier.labels,
                              pair=bool(classifier.config.data.text_pair_column))
    paths = Paths(classifier.workdir)
    module.vocabulary_file = tf.saved_model.Asset(paths.vocabulary)
    module.labels_file = tf.saved_model.Asset(paths.labels)
    return module


def _example(fields):
    """A serialized tf.Example with one bytes feature per (name, text) of `fields`."""
    feature = {name: tf.train.Feature(bytes_list=tf.train.BytesList(value=[text.encode()]))
               for name, text in fields.items()}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def warmup_requests(module):
    """One request per signature of a ClassifierModule, on WARMUP_TEXTS."""
    names = ["text", "text_pair"] if module.pair else ["text"]
    inputs = {name: np.array(WARMUP_TEXTS, dtype=object) for name in names}
    examples = [_example({name: text for name in names}) for text in WARMUP_TEXTS]
    features = module.to_features(*(tf.constant(WARMUP_TEXTS) for _ in names))
    return [
        ("serving_default", inputs),
        ("serve_examples", {"examples": np.array(examples, dtype=object)}),
        ("serve_token_ids", {key: np.asarray(value) for key, value in features.items()}),
    ]


def export_parts(classifier):
    """(module, warmup requests) for `tfllm.serving.writer.export`."""
    module = classifier_module(classifier)
    return module, warmup_requests(module)
