"""Public builders for Keras users: `tfllm.models.bert(...)` and `tfllm.models.gpt(...)`.

Each returns a plain keras-hub model, from a named size (with optional explicit
dimensions) or from a pretrained checkpoint, built the way tfllm's own runs build
theirs (`bert_backbone`, `gpt_backbone`, `pretrained`, `pretrained_lm`). What a run
takes from its config (`model.size`, `model.backbone.*`, `model.init_from`) is here a
keyword argument of the same name.
"""

import contextlib

import ml_collections

from tfllm.errors import DataError, TfllmError
from tfllm.models import bert_backbone
from tfllm.models import gpt_backbone
from tfllm.models import pretrained
from tfllm.models import pretrained_lm
from tfllm.models import sizes
from tfllm.models.sources import FLAG

DIMS = ("num_layers", "num_heads", "hidden_dim", "intermediate_dim")


def bert(size=None, vocabulary_size=None, max_sequence_length=None, init_from="",
         dropout=0.1, **dims):
    """Returns a keras-hub BertBackbone: random from a size, or a pretrained encoder.

    Args:
        size: a named size, one of `tfllm.models.sizes.BERT_SIZES` (tiny 2x128,
            mini 4x256, small 4x512, medium 8x512, base 12x768); default "tiny".
        vocabulary_size: token embeddings; required from sizes (the length of
            your WordPiece vocabulary). With `init_from`, the checkpoint's (give
            it only to check it).
        max_sequence_length: position embeddings; default 512. With `init_from`,
            the checkpoint's.
        init_from: a pretrained encoder, anything a run's `model.init_from`
            takes (a Hugging Face directory, a keras-hub preset, a .keras file,
            a tfllm work directory). Its vocabulary and casing:
            `bert_vocabulary(init_from)`.
        dropout: dropout inside the transformer layers.
        **dims: num_layers, num_heads, hidden_dim, intermediate_dim: explicit
            dimensions that override `size`'s (not with `init_from`).

    Example:
    >>> backbone = bert("tiny", vocabulary_size=100, num_layers=1, hidden_dim=16,
    ...                 num_heads=2, intermediate_dim=32)
    >>> backbone.num_layers, backbone.hidden_dim
    (1, 16)
    """
    _check_dropout("bert", dropout)
    if init_from:
        _no_sizes("bert", size, dims, max_sequence_length)
        checkpoint = _read(pretrained.read_bert_checkpoint, init_from)
        with _init_from_errors():
            backbone, _ = pretrained.load_bert_backbone(checkpoint, dropout)
        _check_vocabulary_size("bert", vocabulary_size, backbone, init_from)
        return backbone
    model_config = _model_config("bert", sizes.BERT_SIZES, sizes.backbone_dims, size, dims,
                                 dropout)
    _check_positive("bert", "vocabulary_size", vocabulary_size, required=True)
    _check_positive("bert", "max_sequence_length", max_sequence_length)
    return bert_backbone.build_backbone(bert_backbone.backbone_kwargs(
        model_config, vocabulary_size, max_sequence_length or 512))


def bert_vocabulary(init_from):
    """The tokenizer arguments a pretrained encoder fixes: {"vocabulary": its WordPiece
    tokens in id order, "lowercase": whether its tokenizer lower-cases}.

    They are `TextClassifierPreprocessor`'s arguments of the same names:

    >>> from tfllm.tasks.classification.preprocessor import TextClassifierPreprocessor
    >>> preprocessor = TextClassifierPreprocessor(  # doctest: +SKIP
    ...     **bert_vocabulary(path), sequence_length=128)
    """
    checkpoint = _read(pretrained.read_bert_checkpoint, init_from)
    return {"vocabulary": list(checkpoint.vocabulary), "lowercase": bool(checkpoint.lowercase)}


def gpt(size=None, vocabulary_size=None, max_sequence_length=None, init_from="",
        dropout=0.1, **dims):
    """Returns a keras-hub causal LM (logits over the vocabulary, no preprocessor): a random
    GPT-2 from a size, or a pretrained decoder.

    Args:
        size: a named size, one of `tfllm.models.sizes.GPT_SIZES` (tiny 2x128,
            mini 4x256, small 6x512, medium 8x512, base 12x768 = GPT-2 124M);
            default "tiny".
        vocabulary_size: token embeddings (tied with the output layer);
            required from sizes. With `init_from`, the checkpoint's.
        max_sequence_length: the context window; default 1024. With
            `init_from`, the checkpoint's.
        init_from: a pretrained GPT-2 or Llama decoder, anything a language
            model run's `model.init_from` takes (a Hugging Face directory, a
            .gguf file, a keras-hub preset, a .keras file, a tfllm work
            directory); a GPT2CausalLM or Llama3CausalLM comes back.
        dropout: dropout inside the transformer layers.
        **dims: num_layers, num_heads, hidden_dim, intermediate_dim that
            override `size`'s (not with `init_from`).

    Example:
    >>> lm = gpt("tiny", vocabulary_size=50, max_sequence_length=16, num_layers=1)
    >>> import numpy as np
    >>> lm({"token_ids": np.ones((2, 16), "int32"),
    ...     "padding_mask": np.ones((2, 16), bool)}).shape
    TensorShape([2, 16, 50])
    """
    _check_dropout("gpt", dropout)
    if init_from:
        _no_sizes("gpt", size, dims, max_sequence_length)
        checkpoint = _read(pretrained_lm.read_decoder_checkpoint, init_from)
        with _init_from_errors():
            lm, _ = pretrained_lm.load_causal_lm(checkpoint, dropout)
        _check_vocabulary_size("gpt", vocabulary_size, lm.backbone, init_from)
        return lm
    model_config = _model_config("gpt", sizes.GPT_SIZES, sizes.gpt_dims, size, dims, dropout)
    _check_positive("gpt", "vocabulary_size", vocabulary_size, required=True)
    _check_positive("gpt", "max_sequence_length", max_sequence_length)
    model_config.backbone.max_sequence_length = max_sequence_length or 1024
    return gpt_backbone.build_causal_lm(gpt_backbone.backbone_kwargs(model_config,
                                                                     vocabulary_size))


def _model_config(builder, table, dims_of, size, dims, dropout):
    """The `model` config section (size, backbone) a run would have for these arguments."""
    size = "tiny" if size is None else size
    if size not in table:
        raise TfllmError(f"tfllm.models.{builder}: size must be one of {list(table)}, "
                         f"got {size!r}")
    unknown = sorted(set(dims) - set(DIMS))
    if unknown:
        raise TfllmError(f"tfllm.models.{builder}: unknown argument {unknown[0]!r}; dimensions "
                         f"are {list(DIMS)}")
    for name, value in dims.items():
        _check_positive(builder, name, value)
    backbone = {key: dims.get(key) or 0 for key in DIMS}
    resolved = dims_of(size, backbone)
    if resolved["hidden_dim"] % resolved["num_heads"]:
        raise TfllmError(f"tfllm.models.{builder}: hidden_dim={resolved['hidden_dim']} must be "
                         f"a multiple of num_heads={resolved['num_heads']}")
    return ml_collections.ConfigDict({"size": size,
                                      "backbone": {**backbone, "dropout": float(dropout)}})


def _check_positive(builder, name, value, required=False):
    if value is None and not required:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TfllmError(f"tfllm.models.{builder}: {name} must be a positive integer, "
                         f"got {value!r}")


def _check_dropout(builder, dropout):
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not (
            0 <= dropout < 1):
        raise TfllmError(f"tfllm.models.{builder}: dropout must be in [0, 1), got {dropout!r}")


def _no_sizes(builder, size, dims, max_sequence_length):
    """A checkpoint fixes the shape: refuses arguments that would pretend otherwise."""
    given = sorted(dims) + (["max_sequence_length"] if max_sequence_length is not None else [])
    if size is not None:
        given.insert(0, "size")
    if given:
        raise TfllmError(f"tfllm.models.{builder}: {given[0]} cannot be given with init_from; "
                         "the checkpoint fixes the model's shape")


def _check_vocabulary_size(builder, vocabulary_size, backbone, init_from):
    if vocabulary_size is not None and vocabulary_size != backbone.vocabulary_size:
        raise TfllmError(f"tfllm.models.{builder}: vocabulary_size={vocabulary_size}, but "
                         f"{init_from} has {backbone.vocabulary_size} token embeddings")


@contextlib.contextmanager
def _init_from_errors():
    """Checkpoint errors name the Python argument `init_from`, not a run's config flag."""
    try:
        yield
    except DataError as error:
        raise DataError(str(error).replace(FLAG, "init_from")) from error


def _read(reader, init_from):
    if not isinstance(init_from, str) or not init_from:
        raise TfllmError(f"init_from must name a checkpoint (a path or handle), "
                         f"got {init_from!r}")
    with _init_from_errors():
        return reader(init_from)
