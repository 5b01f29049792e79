"""Backbones from sizes, checkpoint import, LoRA; `bert(...)`, `gpt(...)` for Keras users.

The builders load on first use (`tfllm.models.bert`), so that importing a light module of
this package (`sizes`, `sources`) does not import TensorFlow.
"""

_BUILDERS = ("bert", "bert_vocabulary", "gpt")


def __getattr__(name):
    if name in _BUILDERS:
        from tfllm.models import builders  # pylint: disable=import-outside-toplevel
        return getattr(builders, name)
    raise AttributeError(f"module 'tfllm.models' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_BUILDERS])
