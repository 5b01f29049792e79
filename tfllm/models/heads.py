"""Task heads on a backbone."""

import keras_hub


def build_classifier(backbone, num_classes, dropout):
    """Returns a sequence classifier: [CLS] pooled output -> dropout -> dense logits.

    keras-hub's BertTextClassifier is exactly this head; it is built without a
    preprocessor because tfllm tokenizes in tf.data (and, on export, in the
    serving graph) after its own cleaning step.
    """
    return keras_hub.models.BertTextClassifier(
        backbone, num_classes, preprocessor=None, dropout=dropout)
