"""A holder for objects a SavedModel must not walk (a Keras model's tokenizer, say)."""


class Untracked:
    """Holds `value` where `tf.Module` attribute tracking cannot see it: the serving
    modules keep Python objects (tokenizers, feature functions) that are traced into their
    functions but must not be saved as dependencies."""

    def __init__(self, value):
        self.value = value
