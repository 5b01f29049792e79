"""A text classifier for your own Keras code: raw strings in, class probabilities out.

`text_classifier` puts a `TextClassifierPreprocessor` in front of the classification
head of a run (`head.build_classifier`) and a softmax behind it, so the model compiles
with `loss="sparse_categorical_crossentropy"`, fits on a tf.data dataset of
(text, label id), saves as one .keras file and exports with
`tfllm export --model=FILE.keras`.
"""

import keras
import keras_hub

from tfllm.errors import TfllmError
from tfllm.tasks.classification import head as heads
from tfllm.tasks.classification.preprocessor import TextClassifierPreprocessor


def text_classifier(backbone, preprocessor, num_labels, dropout=0.1, pooling="cls",
                    text_pair=False):
    """Returns a functional keras.Model from raw strings to class probabilities.

    Args:
        backbone: a keras-hub BertBackbone (`tfllm.models.bert(...)`).
        preprocessor: a `TextClassifierPreprocessor` whose vocabulary the
            backbone embeds.
        num_labels: classes; the output is (batch, num_labels) probabilities.
        dropout: dropout before the output layer.
        pooling: "cls" (the [CLS] vector, what pretrained encoders expect) or
            "mean" (the mean of the token vectors: learns faster when the
            encoder is trained from scratch); see `head.build_classifier`.
        text_pair: the model takes two inputs, `text` and `text_pair`, packed
            as one sequence; otherwise one, `text`.

    Example:
    >>> import tensorflow as tf
    >>> import tfllm
    >>> vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "goal", "soup"]
    >>> preprocessor = TextClassifierPreprocessor(vocabulary, sequence_length=8)
    >>> backbone = tfllm.models.bert(vocabulary_size=len(vocabulary), num_layers=1,
    ...                              hidden_dim=8, num_heads=2, intermediate_dim=16)
    >>> model = text_classifier(backbone, preprocessor, num_labels=2)
    >>> model.predict(tf.constant(["goal", "soup"]), verbose=0).shape
    (2, 2)
    """
    _check(backbone, preprocessor, num_labels, dropout, pooling)
    names = ("text", "text_pair") if text_pair else ("text",)
    inputs = [keras.Input(shape=(), dtype="string", name=name) for name in names]
    features = preprocessor(inputs if text_pair else inputs[0])
    head = heads.build_classifier(backbone, num_labels, dropout, pooling)
    # keras-hub's BertTextClassifier compiles itself with defaults when built; nested here
    # that state is never used (this model is the one compiled), and saved it makes
    # load_model warn that it cannot restore a custom compile.
    head.compiled = False
    logits = head(features)
    probabilities = keras.layers.Softmax(name="probabilities", dtype="float32")(logits)
    return keras.Model(inputs if text_pair else inputs[0], probabilities,
                       name="text_classifier")


def _check(backbone, preprocessor, num_labels, dropout, pooling):
    """TfllmError naming the argument that cannot work, before anything is built."""
    name = "text_classifier"
    if not isinstance(backbone, keras_hub.models.BertBackbone):
        raise TfllmError(f"{name}: backbone must be a keras-hub BertBackbone "
                         f"(tfllm.models.bert(...)), got {type(backbone).__name__}")
    if not isinstance(preprocessor, TextClassifierPreprocessor):
        raise TfllmError(f"{name}: preprocessor must be a TextClassifierPreprocessor, got "
                         f"{type(preprocessor).__name__}")
    if len(preprocessor.vocabulary) > backbone.vocabulary_size:
        raise TfllmError(f"{name}: preprocessor's vocabulary has "
                         f"{len(preprocessor.vocabulary)} tokens but the backbone only "
                         f"{backbone.vocabulary_size} token embeddings")
    if preprocessor.sequence_length > backbone.max_sequence_length:
        raise TfllmError(f"{name}: preprocessor's sequence_length "
                         f"{preprocessor.sequence_length} exceeds the backbone's "
                         f"max_sequence_length {backbone.max_sequence_length}")
    if isinstance(num_labels, bool) or not isinstance(num_labels, int) or num_labels < 2:
        raise TfllmError(f"{name}: num_labels must be an integer of at least 2, "
                         f"got {num_labels!r}")
    if not 0 <= dropout < 1:
        raise TfllmError(f"{name}: dropout must be in [0, 1), got {dropout!r}")
    if pooling not in heads.POOLINGS:
        raise TfllmError(f"{name}: pooling must be one of {heads.POOLINGS}, got {pooling!r}")
