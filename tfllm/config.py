"""Validation, saving and loading of the resolved experiment config.

`validate` runs before any work starts, so a bad value costs nothing but a
one-line error naming the `--config.` flag. The resolved config (model sizes
filled in, vocabulary size known) is saved as `config.json` in the work
directory and is all that `tfllm.load` needs to rebuild the run.
"""

import json
import os

import ml_collections

from tfllm.errors import ConfigError
from tfllm.models.heads import POOLINGS
from tfllm.models.sizes import BERT_SIZES

UNICODE_FORMS = ("", "NFC", "NFKC", "NFD", "NFKD")
DECAYS = ("linear", "cosine", "constant")
PRECISIONS = ("float32", "mixed_bfloat16")
TASKS = ("text_classification",)


def _check(config, field, ok, expected):
    """Raises ConfigError for `field` (dotted path) unless `ok(value)`."""
    value = config
    for part in field.split("."):
        value = value[part]
    if not ok(value):
        raise ConfigError(field, f"got {value!r}, expected {expected}")


def _is_file_source(spec):
    return spec not in ("", "default") and not spec.startswith("tfds:")


def validate(config):
    """Raises ConfigError on the first field with a value no run could use."""
    def positive(v):
        return v > 0

    def non_negative(v):
        return v >= 0

    def fraction(v):
        return 0 <= v < 1

    checks = [
        ("task", lambda v: v in TASKS, f"one of {TASKS}"),
        ("data.train", bool, "a data source ('default', a file or 'tfds:NAME')"),
        ("data.validation_fraction", lambda v: 0 < v < 1, "a fraction in (0, 1)"),
        ("data.max_bad_fraction", lambda v: 0 <= v <= 1, "a fraction in [0, 1]"),
        ("data.max_seq_length", lambda v: 4 <= v <= 512, "an integer in [4, 512]"),
        ("data.batch_size", positive, "a positive integer"),
        ("data.shuffle_buffer", positive, "a positive integer"),
        ("data.cleaning.unicode_normalization", lambda v: v in UNICODE_FORMS,
         f"one of {UNICODE_FORMS}"),
        ("tokenizer.vocabulary_size", lambda v: v >= 16, "an integer >= 16"),
        ("tokenizer.min_frequency", positive, "a positive integer"),
        ("model.size", lambda v: v in BERT_SIZES, f"one of {tuple(BERT_SIZES)}"),
        ("model.backbone.num_layers", non_negative, "0 (from model.size) or a layer count"),
        ("model.backbone.num_heads", non_negative, "0 (from model.size) or a head count"),
        ("model.backbone.hidden_dim", non_negative, "0 (from model.size) or a width"),
        ("model.backbone.intermediate_dim", non_negative, "0 (from model.size) or a width"),
        ("model.backbone.dropout", fraction, "a rate in [0, 1)"),
        ("model.head_dropout", fraction, "a rate in [0, 1)"),
        ("model.pooling", lambda v: v in POOLINGS, f"one of {POOLINGS}"),
        ("train.epochs", positive, "a positive integer"),
        ("train.steps_per_epoch", non_negative, "0 (full pass) or a step count"),
        ("train.learning_rate", positive, "a positive number"),
        ("train.warmup_fraction", fraction, "a fraction in [0, 1)"),
        ("train.decay", lambda v: v in DECAYS, f"one of {DECAYS}"),
        ("train.end_learning_rate_ratio", lambda v: 0 <= v <= 1, "a ratio in [0, 1]"),
        ("train.weight_decay", non_negative, "a non-negative number"),
        ("train.ema_momentum", fraction, "0 (off) or a momentum in (0, 1)"),
        ("train.clipnorm", non_negative, "0 (off) or a positive norm"),
        ("train.label_smoothing", fraction, "a value in [0, 1)"),
        ("train.l2", non_negative, "a non-negative number"),
        ("train.early_stopping_patience", non_negative, "0 (off) or an epoch count"),
        ("train.checkpoint_every_epochs", non_negative, "0 (off) or an epoch count"),
        ("train.verbose", lambda v: v in (0, 1, 2), "0, 1 or 2"),
        ("runtime.mixed_precision", lambda v: v in PRECISIONS, f"one of {PRECISIONS}"),
    ]
    for field, ok, expected in checks:
        _check(config, field, ok, expected)

    for field in ("data.train", "data.validation"):
        spec = config.data[field.split(".")[1]]
        if _is_file_source(spec) and not os.path.isfile(spec):
            raise ConfigError(field, f"data file not found: {spec}")
    vocabulary = config.tokenizer.vocabulary
    if vocabulary and not os.path.isfile(vocabulary):
        raise ConfigError("tokenizer.vocabulary", f"vocabulary file not found: {vocabulary}")
    hidden = config.model.backbone.hidden_dim or BERT_SIZES[config.model.size][1]
    heads = config.model.backbone.num_heads or max(1, hidden // 64)
    if hidden % heads:
        raise ConfigError("model.backbone.num_heads",
                          f"hidden_dim {hidden} is not divisible by num_heads {heads}")


def save(config, path):
    """Writes `config` as indented JSON (the work directory's config.json)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(config.to_json(indent=2, sort_keys=True))
        f.write("\n")


def load(path):
    """Reads a config.json written by `save` back into a ConfigDict."""
    with open(path, encoding="utf-8") as f:
        return ml_collections.ConfigDict(json.load(f))
