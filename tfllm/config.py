"""Validation, saving and loading of the resolved experiment config.

`validate` runs before any work starts, so a bad value costs nothing but a
one-line error naming the `--config.` flag. The resolved config (model sizes
filled in, vocabulary size known) is saved as `config.json` in the work
directory and is all that `tfllm.load` needs to rebuild the run.
"""

import os

import ml_collections

from tfllm import atomic
from tfllm import damaged
from tfllm.errors import ConfigError
from tfllm.generation.sampling import SAMPLERS, WEIGHT_DTYPES
from tfllm.models import sources
from tfllm.models.sizes import BERT_SIZES

UNICODE_FORMS = ("", "NFC", "NFKC", "NFD", "NFKD")
DECAYS = ("linear", "cosine", "constant")
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
DISTRIBUTIONS = ("none", "mirrored", "multi_worker", "tpu")
PADDINGS = ("bucketed", "dynamic", "static")


def check(config, field, ok, expected):
    """Raises ConfigError for `field` (dotted path) unless `ok(value)`."""
    value = config
    for part in field.split("."):
        value = value[part]
    if not ok(value):
        raise ConfigError(field, f"got {value!r}, expected {expected}")


def is_file_source(spec):
    return spec not in ("", "default") and not spec.startswith("tfds:")


def positive(v):
    return v > 0


def non_negative(v):
    return v >= 0


def fraction(v):
    return 0 <= v < 1


# Fields every task's config has, checked for every run (`check_common`).
COMMON_CHECKS = [
    ("data.train", bool, "a data source ('default', a file or 'tfds:NAME')"),
    ("data.validation_fraction", lambda v: 0 < v < 1, "a fraction in (0, 1)"),
    ("data.max_bad_fraction", lambda v: 0 <= v <= 1, "a fraction in [0, 1]"),
    ("data.batch_size", positive, "a positive integer"),
    ("data.shuffle_buffer", positive, "a positive integer"),
    ("data.cleaning.unicode_normalization", lambda v: v in UNICODE_FORMS,
     f"one of {UNICODE_FORMS}"),
    ("model.backbone.num_layers", non_negative, "0 (from model.size) or a layer count"),
    ("model.backbone.num_heads", non_negative, "0 (from model.size) or a head count"),
    ("model.backbone.hidden_dim", non_negative, "0 (from model.size) or a width"),
    ("model.backbone.intermediate_dim", non_negative, "0 (from model.size) or a width"),
    ("model.backbone.dropout", fraction, "a rate in [0, 1)"),
    ("train.epochs", positive, "a positive integer"),
    ("train.steps_per_epoch", non_negative, "0 (full pass) or a step count"),
    ("train.learning_rate", positive, "a positive number"),
    ("train.warmup_fraction", fraction, "a fraction in [0, 1)"),
    ("train.decay", lambda v: v in DECAYS, f"one of {DECAYS}"),
    ("train.end_learning_rate_ratio", lambda v: 0 <= v <= 1, "a ratio in [0, 1]"),
    ("train.weight_decay", non_negative, "a non-negative number"),
    ("train.ema_momentum", fraction, "0 (off) or a momentum in (0, 1)"),
    ("train.clipnorm", non_negative, "0 (off) or a positive norm"),
    ("train.grad_accum_steps", positive, "1 (off) or a number of batches per update"),
    ("train.early_stopping_patience", non_negative, "0 (off) or an epoch count"),
    ("train.checkpoint_every_epochs", non_negative, "0 (off) or an epoch count"),
    ("train.backup_every_steps", non_negative, "0 (epoch ends only) or a step count"),
    ("train.verbose", lambda v: v in (0, 1, 2), "0, 1 or 2"),
    ("runtime.mixed_precision", lambda v: v in PRECISIONS, f"one of {PRECISIONS}"),
    ("runtime.distribution", lambda v: v in DISTRIBUTIONS, f"one of {DISTRIBUTIONS}"),
]

def _patterns(v):
    """A comma-separated list of layer-name patterns, none of them empty (see models/lora.py)."""
    return isinstance(v, str) and all(p.strip() for p in v.split(","))


# The `train.lora` section (configs that have one): LoRA adapters instead of full fine-tuning.
LORA_CHECKS = [
    ("train.lora.rank", lambda v: isinstance(v, int) and v >= 0,
     "0 (off: every weight trains) or a positive adapter rank"),
    ("train.lora.alpha", non_negative, "0 (= rank) or a positive number"),
    ("train.lora.dropout", fraction, "a rate in [0, 1)"),
    ("train.lora.targets", _patterns,
     "comma-separated layer-name patterns, e.g. 'query,value'"),
    ("train.lora.train_also", lambda v: v == "" or _patterns(v),
     "'' or comma-separated layer-name patterns, e.g. 'pooled_dense'"),
]


# Generation settings of the decoders (language models, seq2seq).
GENERATION_CHECKS = [
    ("generation.sampler", lambda v: v in SAMPLERS, f"one of {SAMPLERS}"),
    ("generation.max_new_tokens", positive, "a positive integer"),
    ("generation.temperature", positive, "a positive number"),
    ("generation.top_k", positive, "a positive integer"),
    ("generation.top_p", lambda v: 0 < v <= 1, "a probability in (0, 1]"),
    ("generation.num_beams", positive, "a positive integer"),
    ("generation.weights_dtype", lambda v: v in WEIGHT_DTYPES, f"one of {WEIGHT_DTYPES}"),
    ("generation.draft_tokens", non_negative, "0 (off) or a number of draft tokens"),
]

# WordPiece encoders (classification, tagging, span QA): tokenizer, size, head and L2.
ENCODER_CHECKS = [
    ("tokenizer.vocabulary_size", lambda v: v >= 16, "an integer >= 16"),
    ("tokenizer.min_frequency", positive, "a positive integer"),
    ("model.size", lambda v: v in BERT_SIZES, f"one of {tuple(BERT_SIZES)}"),
    ("model.head_dropout", fraction, "a rate in [0, 1)"),
    ("train.l2", non_negative, "a non-negative number"),
]


def check_all(config, checks):
    """`check` for each (field, ok, expected) of `checks`, in order."""
    for field, ok, expected in checks:
        check(config, field, ok, expected)


def validate(config):
    """Raises ConfigError on the first field with a value no run could use: the task's
    name, then the task's own checks (`Task.check_config`, which calls the shared ones)."""
    from tfllm.tasks import registry  # pylint: disable=import-outside-toplevel
    registry.check_config(config)


def check_common(config, first=(), skip=()):
    """The checks every task shares, after the task's `first` ones (a task without a
    default corpus names a missing data.train first); fields starting with a prefix in
    `skip` are left out (span QA has no cleaning section)."""
    for field, ok, expected in list(first) + COMMON_CHECKS:
        if not field.startswith(tuple(skip) or ("\0",)):
            check(config, field, ok, expected)


def check_lora(config):
    """The `train.lora` section, where the config has one."""
    if "lora" in config.train:
        check_all(config, LORA_CHECKS)


def check_data_files(config):
    """data.train and data.validation, where they name files, exist."""
    for field in ("data.train", "data.validation"):
        spec = config.data[field.split(".")[1]]
        if is_file_source(spec) and not os.path.isfile(spec):
            raise ConfigError(field, f"data file not found: {spec}")


def check_init_from(config):
    """model.init_from is '' or a local path, a preset name or a remote handle."""
    init_from = config.model.init_from
    if init_from and not os.path.exists(init_from) and not sources.is_remote(init_from):
        raise ConfigError("model.init_from", f"not found: {init_from} (expected a local "
                          "checkpoint, a keras-hub preset name or an hf:// or kaggle:// handle)")


def check_vocabulary(config, directory):
    """tokenizer.vocabulary is '' or an existing vocabulary file (WordPiece) or, with
    `directory`, a directory of vocab.json and merges.txt (byte-level BPE)."""
    vocabulary = config.tokenizer.vocabulary
    if vocabulary and directory and not os.path.isdir(vocabulary):
        raise ConfigError("tokenizer.vocabulary", "directory with vocab.json and merges.txt "
                          f"not found: {vocabulary}")
    if vocabulary and not directory and not os.path.isfile(vocabulary):
        raise ConfigError("tokenizer.vocabulary", f"vocabulary file not found: {vocabulary}")


def check_heads(config, sizes):
    """The hidden width divides into the heads (both from model.size in `sizes` or set)."""
    hidden = config.model.backbone.hidden_dim or sizes[config.model.size][1]
    heads = config.model.backbone.num_heads or max(1, hidden // 64)
    if hidden % heads:
        raise ConfigError("model.backbone.num_heads",
                          f"hidden_dim {hidden} is not divisible by num_heads {heads}")


def check_fits_context(config, context, checkpoint_path):
    """Refuses data.max_seq_length beyond the `context` positions of a pretrained checkpoint."""
    if config.data.max_seq_length > context:
        raise ConfigError("data.max_seq_length", (
            f"got {config.data.max_seq_length}, more than the {context} positions of "
            f"{checkpoint_path}"))


def check_encoder_run(config):
    """What classification, tagging and span QA check after their own fields: LoRA, data
    files, init_from, the WordPiece vocabulary file and the head count."""
    check_lora(config)
    check_data_files(config)
    check_init_from(config)
    check_vocabulary(config, directory=False)
    check_heads(config, BERT_SIZES)


def save(config, path):
    """Writes `config` as indented JSON (the work directory's config.json), atomically
    (`atomic.WriteFailed` on a full disk)."""
    def write(temporary):
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(config.to_json(indent=2, sort_keys=True))
            f.write("\n")

    atomic.replace(path, write)


def load(path):
    """Reads a config.json written by `save` back into a ConfigDict.

    Raises:
        DataError: the file is damaged (empty, cut short, not UTF-8, not JSON) or lacks a
            section every run's config.json has, naming the file.
    """
    expected = "the config.json a tfllm run wrote"
    config = damaged.read_json_object(path, expected)
    if not isinstance(config.get("task"), str):
        raise damaged.error(path, 'no "task" name', expected)
    missing = [key for key in ("data", "model", "tokenizer", "train")
               if not isinstance(config.get(key), dict)]
    if missing:
        raise damaged.error(path, f"no {missing[0]!r} section", expected)
    return ml_collections.ConfigDict(config)
