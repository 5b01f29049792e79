"""The classifier's preprocessing as one Keras layer: raw strings in, BERT features out."""

import keras
import tensorflow as tf

from tfllm.data import cleaning as cleaning_lib
from tfllm.data import pipeline
from tfllm.data import tokenizer as tokenizer_lib
from tfllm.errors import ConfigError, TfllmError
from tfllm.serving.untracked import Untracked

# Feature name -> dtype, as keras-hub's BertTextClassifierPreprocessor packs them.
FEATURES = {"token_ids": "int32", "segment_ids": "int32", "padding_mask": "bool"}


@keras.saving.register_keras_serializable(package="tfllm")
class TextClassifierPreprocessor(keras.layers.Layer):
    """Cleans, WordPiece-tokenizes and packs raw text as tfllm's training runs do.

    One string tensor (or a (text, text_pair) pair of them) in; the features a
    BertBackbone takes out: {"token_ids", "segment_ids", "padding_mask"}, each
    (batch, sequence_length), packed as [CLS] text [SEP] text_pair [SEP] and
    truncated round-robin. The steps are `tfllm.data.pipeline.features_fn`'s, so
    a model with this layer in front computes what a run's model does on the
    same texts, and the whole path traces into a SavedModel (no Python needed
    when served).

    Args:
        vocabulary: the WordPiece tokens in id order (a list, or a vocab.txt
            path), "[PAD]", "[UNK]", "[CLS]" and "[SEP]" among them.
        sequence_length: tokens per example, [CLS] and [SEP]s included.
        lowercase: the tokenizer lower-cases and strips accents (uncased
            pretrained vocabularies: see `tfllm.models.bert_vocabulary`).
        cleaning: options of `tfllm.data.cleaning.clean_text` (strip_html,
            unicode_normalization, collapse_whitespace, lowercase); missing
            keys take `cleaning.DEFAULTS`.

    Example:
    >>> vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "goal"]
    >>> preprocessor = TextClassifierPreprocessor(vocabulary, sequence_length=6)
    >>> preprocessor(tf.constant(["the goal"]))["token_ids"].numpy().tolist()
    [[2, 5, 6, 3, 0, 0]]
    """

    def __init__(self, vocabulary, sequence_length=64, lowercase=False, cleaning=None,
                 **kwargs):
        super().__init__(**kwargs)
        self._convert_input_args = False  # string tensors stay TensorFlow tensors
        self._allow_non_tensor_positional_args = True
        if isinstance(vocabulary, str):
            vocabulary = tokenizer_lib.load_vocabulary(vocabulary)
        self.vocabulary = [str(token) for token in vocabulary]
        if isinstance(sequence_length, bool) or not isinstance(sequence_length, int) or (
                sequence_length < 4):
            raise TfllmError(f"TextClassifierPreprocessor: sequence_length must be an integer "
                             f"of at least 4, got {sequence_length!r}")
        self.sequence_length = sequence_length
        self.lowercase = bool(lowercase)
        self.cleaning = {**cleaning_lib.DEFAULTS, **dict(cleaning or {})}
        try:
            tokenizer = tokenizer_lib.build_tokenizer(self.vocabulary, self.lowercase)
            self._to_features = pipeline.features_fn(
                pipeline.build_preprocessor(tokenizer, sequence_length), self.cleaning)
        except ConfigError as error:
            raise TfllmError("TextClassifierPreprocessor: "
                             f"{str(error).removeprefix('--config.data.')}") from error
        except ValueError as error:  # keras-hub: special tokens missing from the vocabulary
            raise TfllmError(f"TextClassifierPreprocessor: vocabulary: {error}") from error
        # Untracked: everything the tokenizer needs is in this layer's config, so a saved
        # model holds the vocabulary once (Keras would also save a tracked tokenizer's).
        self._tokenizer = Untracked(tokenizer)
        # Eager calls go through a tf.function, so they take the TensorFlow path that
        # tf.data, fit and the exported graph take (keras-hub runs Python when eager).
        # One function per number of segments (tf.function cannot relax over arity).
        self._traced = Untracked({n: tf.function(self._to_features, reduce_retracing=True)
                                  for n in (1, 2)})
        self.built = True

    @property
    def tokenizer(self):
        """The keras-hub BertTokenizer over `vocabulary`."""
        return self._tokenizer.value

    def _segments(self, inputs):
        """A tuple is (text, text_pair), as in keras-hub; so is a list of tensors (a functional
        model's inputs), where a list of Python strings is one batch of texts."""
        if isinstance(inputs, tuple) or isinstance(inputs, list) and inputs and not isinstance(
                inputs[0], (str, bytes)):
            segments = tuple(inputs)
        else:
            segments = (inputs,)
        if len(segments) > 2:
            raise TfllmError(f"TextClassifierPreprocessor takes a text or (text, text_pair), "
                             f"got {len(segments)} segments")
        return tuple(tf.convert_to_tensor(segment, tf.string) for segment in segments)

    def call(self, inputs):
        segments = self._segments(inputs)
        if tf.executing_eagerly():
            return self._traced.value[len(segments)](*segments)
        return self._to_features(*segments)

    def compute_output_spec(self, inputs):
        first = inputs[0] if isinstance(inputs, (tuple, list)) else inputs
        shape = (*first.shape, self.sequence_length)
        return {name: keras.KerasTensor(shape, dtype) for name, dtype in FEATURES.items()}

    def get_config(self):
        return {**super().get_config(), "vocabulary": list(self.vocabulary),
                "sequence_length": self.sequence_length, "lowercase": self.lowercase,
                "cleaning": dict(self.cleaning)}
