"""Backbones from sizes, checkpoint import, LoRA; `bert(...)`, `gpt(...)` for Keras users."""

from tfllm.models.builders import bert, bert_vocabulary, gpt  # noqa: F401
