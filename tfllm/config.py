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
from tfllm.data.documents import FORMATS as DATA_FORMATS
from tfllm.generation.sampling import SAMPLERS, WEIGHT_DTYPES
from tfllm.models import sources
from tfllm.tasks.classification.head import POOLINGS
from tfllm.models.sizes import BERT_SIZES, GPT_SIZES

UNICODE_FORMS = ("", "NFC", "NFKC", "NFD", "NFKD")
DECAYS = ("linear", "cosine", "constant")
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
TASKS = ("text_classification", "language_modeling", "tagging", "span_qa", "seq2seq")
DISTRIBUTIONS = ("none", "mirrored", "multi_worker", "tpu")
PADDINGS = ("bucketed", "dynamic", "static")
TAG_SCHEMES = ("BIO", "BIOES")


def _check(config, field, ok, expected):
    """Raises ConfigError for `field` (dotted path) unless `ok(value)`."""
    value = config
    for part in field.split("."):
        value = value[part]
    if not ok(value):
        raise ConfigError(field, f"got {value!r}, expected {expected}")


def _is_file_source(spec):
    return spec not in ("", "default") and not spec.startswith("tfds:")


def _positive(v):
    return v > 0


def _non_negative(v):
    return v >= 0


def _fraction(v):
    return 0 <= v < 1


_COMMON_CHECKS = [
    ("task", lambda v: v in TASKS, f"one of {TASKS}"),
    ("data.train", bool, "a data source ('default', a file or 'tfds:NAME')"),
    ("data.validation_fraction", lambda v: 0 < v < 1, "a fraction in (0, 1)"),
    ("data.max_bad_fraction", lambda v: 0 <= v <= 1, "a fraction in [0, 1]"),
    ("data.batch_size", _positive, "a positive integer"),
    ("data.shuffle_buffer", _positive, "a positive integer"),
    ("data.cleaning.unicode_normalization", lambda v: v in UNICODE_FORMS,
     f"one of {UNICODE_FORMS}"),
    ("model.backbone.num_layers", _non_negative, "0 (from model.size) or a layer count"),
    ("model.backbone.num_heads", _non_negative, "0 (from model.size) or a head count"),
    ("model.backbone.hidden_dim", _non_negative, "0 (from model.size) or a width"),
    ("model.backbone.intermediate_dim", _non_negative, "0 (from model.size) or a width"),
    ("model.backbone.dropout", _fraction, "a rate in [0, 1)"),
    ("train.epochs", _positive, "a positive integer"),
    ("train.steps_per_epoch", _non_negative, "0 (full pass) or a step count"),
    ("train.learning_rate", _positive, "a positive number"),
    ("train.warmup_fraction", _fraction, "a fraction in [0, 1)"),
    ("train.decay", lambda v: v in DECAYS, f"one of {DECAYS}"),
    ("train.end_learning_rate_ratio", lambda v: 0 <= v <= 1, "a ratio in [0, 1]"),
    ("train.weight_decay", _non_negative, "a non-negative number"),
    ("train.ema_momentum", _fraction, "0 (off) or a momentum in (0, 1)"),
    ("train.clipnorm", _non_negative, "0 (off) or a positive norm"),
    ("train.grad_accum_steps", _positive, "1 (off) or a number of batches per update"),
    ("train.early_stopping_patience", _non_negative, "0 (off) or an epoch count"),
    ("train.checkpoint_every_epochs", _non_negative, "0 (off) or an epoch count"),
    ("train.backup_every_steps", _non_negative, "0 (epoch ends only) or a step count"),
    ("train.verbose", lambda v: v in (0, 1, 2), "0, 1 or 2"),
    ("runtime.mixed_precision", lambda v: v in PRECISIONS, f"one of {PRECISIONS}"),
    ("runtime.distribution", lambda v: v in DISTRIBUTIONS, f"one of {DISTRIBUTIONS}"),
]

_CLASSIFIER_CHECKS = [
    ("data.padding", lambda v: v in PADDINGS, f"one of {PADDINGS}"),
    ("data.max_seq_length", lambda v: 4 <= v <= 512, "an integer in [4, 512]"),
    ("tokenizer.vocabulary_size", lambda v: v >= 16, "an integer >= 16"),
    ("tokenizer.min_frequency", _positive, "a positive integer"),
    ("model.size", lambda v: v in BERT_SIZES, f"one of {tuple(BERT_SIZES)}"),
    ("model.head_dropout", _fraction, "a rate in [0, 1)"),
    ("model.pooling", lambda v: v in POOLINGS, f"one of {POOLINGS}"),
    ("train.label_smoothing", _fraction, "a value in [0, 1)"),
    ("train.l2", _non_negative, "a non-negative number"),
]

_LM_CHECKS = [
    ("data.max_seq_length", lambda v: 4 <= v <= 8192, "an integer in [4, 8192]"),
    ("data.format", lambda v: v in DATA_FORMATS, f"one of {DATA_FORMATS}"),
    ("data.prompt_template", lambda v: v.count("{prompt}") == 1,
     "a template containing {prompt} once"),
    ("tokenizer.vocabulary_size", lambda v: v >= 257, "an integer >= 257 (256 bytes + end)"),
    ("tokenizer.min_frequency", _positive, "a positive integer"),
    ("model.size", lambda v: v in GPT_SIZES, f"one of {tuple(GPT_SIZES)}"),
    ("model.backbone.max_sequence_length", _non_negative,
     "0 (= data.max_seq_length) or a context length"),
    ("generation.sampler", lambda v: v in SAMPLERS, f"one of {SAMPLERS}"),
    ("generation.max_new_tokens", _positive, "a positive integer"),
    ("generation.temperature", _positive, "a positive number"),
    ("generation.top_k", _positive, "a positive integer"),
    ("generation.top_p", lambda v: 0 < v <= 1, "a probability in (0, 1]"),
    ("generation.num_beams", _positive, "a positive integer"),
    ("generation.weights_dtype", lambda v: v in WEIGHT_DTYPES, f"one of {WEIGHT_DTYPES}"),
    ("generation.draft_tokens", _non_negative, "0 (off) or a number of draft tokens"),
]


_TAGGER_CHECKS = [
    ("data.train", _is_file_source,
     "a CoNLL or .jsonl file of tagged sentences: pass --config.data.train=FILE "
     "(python -m tfllm.tasks.tagging.toy_data FILE writes a toy one)"),
    ("data.validation", lambda v: v == "" or _is_file_source(v),
     "'' (hold out part of data.train) or a CoNLL or .jsonl file"),
    ("data.scheme", lambda v: v in TAG_SCHEMES, f"one of {TAG_SCHEMES}"),
    ("data.tokens_key", bool, "the JSON Lines key of the word list"),
    ("data.tags_key", bool, "the JSON Lines key of the tag list"),
    ("data.padding", lambda v: v in PADDINGS, f"one of {PADDINGS}"),
    ("data.max_seq_length", lambda v: 4 <= v <= 512, "an integer in [4, 512]"),
    ("tokenizer.vocabulary_size", lambda v: v >= 16, "an integer >= 16"),
    ("tokenizer.min_frequency", _positive, "a positive integer"),
    ("model.size", lambda v: v in BERT_SIZES, f"one of {tuple(BERT_SIZES)}"),
    ("model.head_dropout", _fraction, "a rate in [0, 1)"),
    ("train.l2", _non_negative, "a non-negative number"),
]


# Extractive QA (task span_qa, configs/bert_qa.py); its text is read as written (answers are
# cut from it by offsets), so it has no cleaning section.
_QA_CHECKS = [
    ("data.train", _is_file_source,
     "a SQuAD JSON or JSON Lines file: pass --config.data.train=FILE "
     "(python -m tfllm.tasks.span_qa.toy_data FILE writes a toy one)"),
    ("data.validation", lambda v: v == "" or _is_file_source(v),
     "'' (hold out part of data.train) or a SQuAD JSON or JSON Lines file"),
    ("data.padding", lambda v: v in PADDINGS, f"one of {PADDINGS}"),
    ("data.max_seq_length", lambda v: 8 <= v <= 512, "an integer in [8, 512]"),
    ("data.max_query_length", _positive, "a positive integer"),
    ("data.doc_stride", _positive, "a positive integer"),
    ("data.max_answer_length", _positive, "a positive integer"),
    ("data.n_best", _positive, "a positive integer"),
    ("data.allow_no_answer", lambda v: v in ("auto", "yes", "no"), "'auto', 'yes' or 'no'"),
    ("tokenizer.vocabulary_size", lambda v: v >= 16, "an integer >= 16"),
    ("tokenizer.min_frequency", _positive, "a positive integer"),
    ("model.size", lambda v: v in BERT_SIZES, f"one of {tuple(BERT_SIZES)}"),
    ("model.head_dropout", _fraction, "a rate in [0, 1)"),
    ("train.l2", _non_negative, "a non-negative number"),
]


def _check_qa_windows(data):
    """A window must hold the question, 3 special tokens and context; the stride must not
    skip context tokens."""
    room = data.max_seq_length - data.max_query_length - 3
    if room < 1:
        raise ConfigError("data.max_query_length", f"got {data.max_query_length}, expected "
                          f"at most data.max_seq_length - 4 = {data.max_seq_length - 4}")
    if data.doc_stride > room:
        raise ConfigError("data.doc_stride", f"got {data.doc_stride}, expected at most "
                          f"data.max_seq_length - data.max_query_length - 3 = {room}")


# Text to text (configs/seq2seq.py): no default corpus; the shared GPT-size and generation checks.
SEQ2SEQ_SUFFIXES = (".tsv", ".csv", ".jsonl", ".json")
SEQ2SEQ_ARCHITECTURES = ("bart", "gpt")
_SEQ2SEQ_CHECKS = [
    ("data.train", lambda v: _is_file_source(v) and v.lower().endswith(SEQ2SEQ_SUFFIXES),
     "a .tsv or .jsonl file of source/target pairs: pass --config.data.train=FILE "
     "(python -m tfllm.tasks.seq2seq.toy_data FILE writes a toy one)"),
    ("data.validation", lambda v: v == "" or v.lower().endswith(SEQ2SEQ_SUFFIXES),
     "'' (hold out part of data.train) or a .tsv or .jsonl file"),
    ("data.source_column", bool, "the TSV column / JSON key of the sources"),
    ("data.target_column", bool, "the TSV column / JSON key of the targets"),
    ("data.max_source_length", lambda v: 3 <= v <= 8192, "an integer in [3, 8192]"),
    ("data.max_target_length", lambda v: 2 <= v <= 8192, "an integer in [2, 8192]"),
    ("data.prompt_template", lambda v: v.count("{prompt}") == 1,
     "a template containing {prompt} once"),
    ("model.architecture", lambda v: v in SEQ2SEQ_ARCHITECTURES,
     f"one of {SEQ2SEQ_ARCHITECTURES}"),
    ("tokenizer.vocabulary_size", lambda v: v >= 261,
     "an integer >= 261 (256 bytes + special tokens)"),
    ("tokenizer.min_frequency", _positive, "a positive integer"),
    ("model.size", lambda v: v in GPT_SIZES, f"one of {tuple(GPT_SIZES)}"),
    ("model.backbone.max_sequence_length", _non_negative,
     "0 (what the data needs) or a number of positions"),
    ("generation.max_new_tokens", _non_negative, "0 (= data.max_target_length) or a count"),
] + [check for check in _LM_CHECKS if check[0].startswith("generation.")
     and check[0] not in ("generation.max_new_tokens", "generation.weights_dtype",
                          "generation.draft_tokens")]


def _validate_seq2seq(config):
    """The seq2seq task's checks: its own fields, the common ones, files, lengths."""
    for field, ok, expected in _SEQ2SEQ_CHECKS[:1] + _COMMON_CHECKS + _SEQ2SEQ_CHECKS[1:]:
        _check(config, field, ok, expected)
    for field in ("data.train", "data.validation"):
        spec = config.data[field.split(".")[1]]
        if spec and not os.path.isfile(spec):
            raise ConfigError(field, f"data file not found: {spec}")
    bart = config.model.architecture == "bart"
    if bart and config.model.init_from:
        raise ConfigError("model.init_from", "BART runs start from random weights (imported "
                          "BART checkpoints are not supported yet); use '' or "
                          "--config.model.architecture=gpt")
    if config.tokenizer.vocabulary and not os.path.isdir(config.tokenizer.vocabulary):
        raise ConfigError("tokenizer.vocabulary", "directory with vocab.json and merges.txt "
                          f"not found: {config.tokenizer.vocabulary}")
    hidden = config.model.backbone.hidden_dim or GPT_SIZES[config.model.size][1]
    heads = config.model.backbone.num_heads or max(1, hidden // 64)
    if hidden % heads:
        raise ConfigError("model.backbone.num_heads",
                          f"hidden_dim {hidden} is not divisible by num_heads {heads}")
    context = config.model.backbone.max_sequence_length
    new_tokens = config.generation.max_new_tokens or config.data.max_target_length
    if bart and context:
        for field, needed in (("data.max_source_length", config.data.max_source_length),
                              ("data.max_target_length", config.data.max_target_length + 2),
                              ("generation.max_new_tokens", new_tokens + 2)):
            if needed > context:
                raise ConfigError("model.backbone.max_sequence_length",
                                  f"got {context}, expected 0 or at least {needed} (for "
                                  f"--config.{field})")
    elif bart and new_tokens + 2 > max(config.data.max_source_length,
                                       config.data.max_target_length + 2):
        raise ConfigError("generation.max_new_tokens",
                          f"got {new_tokens}, more than the decoder's positions allow "
                          "(data.max_target_length, or data.max_source_length - 2)")


def _patterns(v):
    """A comma-separated list of layer-name patterns, none of them empty (see training/lora.py)."""
    return isinstance(v, str) and all(p.strip() for p in v.split(","))


# The `train.lora` section (configs that have one): LoRA adapters instead of full fine-tuning.
_LORA_CHECKS = [
    ("train.lora.rank", lambda v: isinstance(v, int) and v >= 0,
     "0 (off: every weight trains) or a positive adapter rank"),
    ("train.lora.alpha", _non_negative, "0 (= rank) or a positive number"),
    ("train.lora.dropout", _fraction, "a rate in [0, 1)"),
    ("train.lora.targets", _patterns,
     "comma-separated layer-name patterns, e.g. 'query,value'"),
    ("train.lora.train_also", lambda v: v == "" or _patterns(v),
     "'' or comma-separated layer-name patterns, e.g. 'pooled_dense'"),
]


def validate(config):
    """Raises ConfigError on the first field with a value no run could use."""
    if config.task == "seq2seq":
        return _validate_seq2seq(config)
    # A tagger has no default corpus: its data checks come first, so a missing
    # --config.data.train is named as such.
    tagger = config.task == "tagging"
    qa = config.task == "span_qa"
    first = _TAGGER_CHECKS if tagger else _QA_CHECKS if qa else []
    for field, ok, expected in first + _COMMON_CHECKS:
        if not (qa and field.startswith("data.cleaning.")):
            _check(config, field, ok, expected)
    if qa:
        _check_qa_windows(config.data)
    language_model = config.task == "language_modeling"
    if not tagger and not qa:
        for field, ok, expected in (_LM_CHECKS if language_model else _CLASSIFIER_CHECKS):
            _check(config, field, ok, expected)

    if "lora" in config.train:
        for field, ok, expected in _LORA_CHECKS:
            _check(config, field, ok, expected)
    for field in ("data.train", "data.validation"):
        spec = config.data[field.split(".")[1]]
        if _is_file_source(spec) and not os.path.isfile(spec):
            raise ConfigError(field, f"data file not found: {spec}")
    init_from = config.model.init_from
    if init_from and not os.path.exists(init_from) and not sources.is_remote(init_from):
        raise ConfigError("model.init_from", f"not found: {init_from} (expected a local "
                          "checkpoint, a keras-hub preset name or an hf:// or kaggle:// handle)")
    vocabulary = config.tokenizer.vocabulary
    if vocabulary and language_model and not os.path.isdir(vocabulary):
        raise ConfigError("tokenizer.vocabulary", "directory with vocab.json and merges.txt "
                          f"not found: {vocabulary}")
    if vocabulary and not language_model and not os.path.isfile(vocabulary):
        raise ConfigError("tokenizer.vocabulary", f"vocabulary file not found: {vocabulary}")
    sizes = GPT_SIZES if language_model else BERT_SIZES
    hidden = config.model.backbone.hidden_dim or sizes[config.model.size][1]
    heads = config.model.backbone.num_heads or max(1, hidden // 64)
    if hidden % heads:
        raise ConfigError("model.backbone.num_heads",
                          f"hidden_dim {hidden} is not divisible by num_heads {heads}")
    if language_model:
        context = config.model.backbone.max_sequence_length
        if context and context < config.data.max_seq_length:
            raise ConfigError("model.backbone.max_sequence_length",
                              f"got {context}, expected 0 or at least data.max_seq_length "
                              f"({config.data.max_seq_length})")


def save(config, path):
    """Writes `config` as indented JSON (the work directory's config.json)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(config.to_json(indent=2, sort_keys=True))
        f.write("\n")


def load(path):
    """Reads a config.json written by `save` back into a ConfigDict."""
    with open(path, encoding="utf-8") as f:
        return ml_collections.ConfigDict(json.load(f))
