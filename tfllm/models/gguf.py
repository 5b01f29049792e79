"""Llama checkpoints in llama.cpp's GGUF format, read back into Hugging Face layout.

`read` returns the config, byte-level BPE vocabulary and merges (no tensor data
is decoded); `tensors` dequantizes every weight to float32 under its Hugging
Face name and shape, so keras-hub's Llama converters can port them as they
would a model.safetensors. llama.cpp's converter permutes the rows of the
query and key projections for GGML's interleaved rotary embedding; that is
undone here, so the arrays are the ones the Hugging Face checkpoint held.
"""

import dataclasses
import os

import gguf
import numpy as np

from tfllm.errors import DataError

# Hugging Face special-token names -> the GGUF keys that hold their ids.
SPECIAL_ID_KEYS = {
    "bos": "tokenizer.ggml.bos_token_id",
    "eos": "tokenizer.ggml.eos_token_id",
    "eot": "tokenizer.ggml.eot_token_id",
    "unknown": "tokenizer.ggml.unknown_token_id",
    "separator": "tokenizer.ggml.seperator_token_id",  # sic: the GGUF spelling
    "padding": "tokenizer.ggml.padding_token_id",
    "mask": "tokenizer.ggml.mask_token_id",
}

# llama.cpp token types of tokens matched whole in text (gguf.TokenType CONTROL, USER_DEFINED).
_ADDED_TYPES = (gguf.TokenType.CONTROL, gguf.TokenType.USER_DEFINED)

# GGUF block tensor -> (Hugging Face name within model.layers.{i}, shape given dims).
_LAYER_TENSORS = {
    "attn_norm": ("input_layernorm", lambda d: (d["hidden"],)),
    "ffn_norm": ("post_attention_layernorm", lambda d: (d["hidden"],)),
    "attn_q": ("self_attn.q_proj", lambda d: (d["query"], d["hidden"])),
    "attn_k": ("self_attn.k_proj", lambda d: (d["key"], d["hidden"])),
    "attn_v": ("self_attn.v_proj", lambda d: (d["key"], d["hidden"])),
    "attn_output": ("self_attn.o_proj", lambda d: (d["hidden"], d["query"])),
    "ffn_gate": ("mlp.gate_proj", lambda d: (d["intermediate"], d["hidden"])),
    "ffn_up": ("mlp.up_proj", lambda d: (d["intermediate"], d["hidden"])),
    "ffn_down": ("mlp.down_proj", lambda d: (d["hidden"], d["intermediate"])),
}


@dataclasses.dataclass
class GgufCheckpoint:
    """What a run takes from a GGUF file before any weights are decoded.

    Args:
        path: the .gguf file.
        config: a Hugging Face LlamaConfig-style dict (model_type, vocab_size,
            hidden_size, intermediate_size, num_hidden_layers,
            num_attention_heads, num_key_value_heads, head_dim, rope_theta,
            rms_norm_eps, max_position_embeddings, tie_word_embeddings).
        vocabulary: token string -> id, byte-level strings as in a vocab.json.
        merges: "a b" strings, as in a merges.txt.
        special_ids: e.g. {"bos": 1, "eos": 2}: the special tokens the file declares.
        added_tokens: the token strings llama.cpp matches whole in text before BPE
            (token_type CONTROL or USER_DEFINED, e.g. "<|im_start|>"), in id order.
        chat_template: the Jinja chat template (`tokenizer.chat_template`), or None.
        pretokenizer: llama.cpp's `tokenizer.ggml.pre` name (how text is split
            before BPE, e.g. "gpt2", "smollm"), or None when the file omits it.
    """

    path: str
    config: dict
    vocabulary: dict
    merges: list
    special_ids: dict
    added_tokens: list = dataclasses.field(default_factory=list)
    chat_template: str = None
    pretokenizer: str = None


def read(path):
    """Reads the config and tokenizer of the Llama GGUF file `path` (no tensor data)."""
    reader = _open(path)
    config = _config(reader, path)
    tokenizer_model = _value(reader, "tokenizer.ggml.model", path)
    if tokenizer_model != "gpt2":
        raise DataError(f"{path}: tokenizer.ggml.model is {tokenizer_model!r}; expected 'gpt2' "
                        "(byte-level BPE, the only tokenizer supported)")
    special_ids = {name: int(reader.get_field(key).contents())
                   for name, key in SPECIAL_ID_KEYS.items() if reader.get_field(key) is not None}
    vocabulary = _vocabulary(reader, path)
    types = _optional(reader, "tokenizer.ggml.token_type", path)
    added = ([token for token, kind in zip(vocabulary, types) if kind in _ADDED_TYPES]
             if types is not None else [])
    return GgufCheckpoint(path, config, vocabulary,
                          list(_value(reader, "tokenizer.ggml.merges", path)), special_ids,
                          added, _optional(reader, "tokenizer.chat_template", path),
                          _optional(reader, "tokenizer.ggml.pre", path))


def tensors(path):
    """Returns {Hugging Face name: float32 array in Hugging Face shape} for the file `path`.

    Every tensor is dequantized, Q and K rows are put back in Hugging Face's
    rotary order, and the file must hold exactly the tensors of a Llama: a
    missing one, or an extra one (a rope_freqs table, biases) that would change
    what the model computes, is an error rather than silently dropped.
    """
    reader = _open(path)
    config = _config(reader, path)
    stored = {tensor.name: tensor for tensor in reader.tensors}
    plan = _tensor_plan(config)
    missing = sorted(set(plan) - set(stored))
    if missing:
        raise DataError(f"{path}: missing tensor(s) {', '.join(missing[:5])}; expected every "
                        f"tensor of a {config['num_hidden_layers']}-layer Llama")
    extra = sorted(set(stored) - set(plan))
    if extra:
        raise DataError(f"{path}: tensor(s) {', '.join(extra[:5])} are not part of a plain "
                        "Llama (token_embd, blk.N.attn_*/ffn_*, output_norm, output)")
    heads = {"attn_q": config["num_attention_heads"], "attn_k": config["num_key_value_heads"]}
    result = {}
    for gguf_name, (hf_name, shape) in plan.items():
        values = _dequantize(stored[gguf_name], path)
        if values.shape != shape:
            raise DataError(f"{path}: tensor {gguf_name} has shape {values.shape}; expected "
                            f"{shape} from the file's llama.* metadata")
        kind = gguf_name.split(".")[-2]
        result[hf_name] = _unpermute(values, heads[kind]) if kind in heads else values
    return result


def _open(path):
    """The file's GGUFReader: metadata parsed, tensor data memory-mapped but not read."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file; expected a llama.cpp .gguf model")
    try:
        return gguf.GGUFReader(path)
    except (OSError, ValueError, IndexError) as error:
        raise DataError(f"{path}: not a GGUF file the gguf package can read ({error}); "
                        "expected a llama.cpp .gguf model") from error


def _value(reader, key, path):
    """The value of metadata `key`, which the file must have."""
    field = reader.get_field(key)
    if field is None:
        raise DataError(f"{path}: metadata key {key} is missing; expected it in a llama.cpp "
                        "Llama GGUF file")
    try:
        return field.contents()
    except UnicodeDecodeError as error:  # GGUF strings are UTF-8; decoded only here
        raise DataError(f"{path}: metadata key {key} holds a string that is not UTF-8 "
                        f"({error}); the file is damaged (expected a llama.cpp .gguf "
                        "model)") from error


def _optional(reader, key, path):
    """The value of metadata `key`, or None when the file does not have it."""
    return None if reader.get_field(key) is None else _value(reader, key, path)


def _number(reader, key, path, kind):
    """Metadata `key` as a Python int or float (`kind`), refusing per-layer lists."""
    value = _value(reader, key, path)
    if not isinstance(value, (int, float)):
        raise DataError(f"{path}: metadata key {key} is {value!r}; expected one number")
    if kind is float:  # the file holds float32: 1e-05 is stored as 9.99999974e-06
        return float(str(np.float32(value)))
    return int(value)


def _config(reader, path):
    """The Hugging Face LlamaConfig-style dict of a file whose architecture is llama."""
    architecture = _value(reader, "general.architecture", path)
    if architecture != "llama":
        raise DataError(f"{path}: general.architecture is {architecture!r}; expected 'llama'")
    scaling = reader.get_field("llama.rope.scaling.type")
    if scaling is not None and scaling.contents() != "none":
        raise DataError(f"{path}: llama.rope.scaling.type is {scaling.contents()!r}; expected "
                        "none (scaled rotary embeddings are not supported)")
    hidden = _number(reader, "llama.embedding_length", path, int)
    heads = _number(reader, "llama.attention.head_count", path, int)
    rotary = reader.get_field("llama.rope.dimension_count")
    if rotary is not None and int(rotary.contents()) != hidden // heads:
        raise DataError(f"{path}: llama.rope.dimension_count is {rotary.contents()}, not the "
                        f"head size {hidden // heads}; partial rotary embeddings are not "
                        "supported")
    return {
        "model_type": "llama",
        "vocab_size": (_number(reader, "llama.vocab_size", path, int)
                       if reader.get_field("llama.vocab_size") is not None
                       else len(_value(reader, "tokenizer.ggml.tokens", path))),
        "hidden_size": hidden,
        "intermediate_size": _number(reader, "llama.feed_forward_length", path, int),
        "num_hidden_layers": _number(reader, "llama.block_count", path, int),
        "num_attention_heads": heads,
        "num_key_value_heads": _number(reader, "llama.attention.head_count_kv", path, int),
        "head_dim": (_number(reader, "llama.attention.key_length", path, int)
                     if reader.get_field("llama.attention.key_length") is not None
                     else hidden // heads),
        "rope_theta": _number(reader, "llama.rope.freq_base", path, float),
        "rms_norm_eps": _number(reader, "llama.attention.layer_norm_rms_epsilon", path, float),
        "max_position_embeddings": _number(reader, "llama.context_length", path, int),
        "tie_word_embeddings": all(tensor.name != "output.weight" for tensor in reader.tensors),
    }


def _vocabulary(reader, path):
    """token string -> id from tokenizer.ggml.tokens, whose order is the id order."""
    tokens = _value(reader, "tokenizer.ggml.tokens", path)
    vocabulary = {token: index for index, token in enumerate(tokens)}
    if len(vocabulary) != len(tokens):
        raise DataError(f"{path}: tokenizer.ggml.tokens repeats {len(tokens) - len(vocabulary)} "
                        "token(s); expected each token string once")
    return vocabulary


def _tensor_plan(config):
    """GGUF tensor name -> (Hugging Face name, Hugging Face shape) for a Llama of `config`."""
    dims = {"hidden": config["hidden_size"], "intermediate": config["intermediate_size"],
            "query": config["num_attention_heads"] * config["head_dim"],
            "key": config["num_key_value_heads"] * config["head_dim"]}
    embedding_shape = (config["vocab_size"], config["hidden_size"])
    plan = {"token_embd.weight": ("model.embed_tokens.weight", embedding_shape),
            "output_norm.weight": ("model.norm.weight", (config["hidden_size"],))}
    if not config["tie_word_embeddings"]:
        plan["output.weight"] = ("lm_head.weight", embedding_shape)
    for i in range(config["num_hidden_layers"]):
        for gguf_name, (hf_name, shape) in _LAYER_TENSORS.items():
            hf_full_name = f"model.layers.{i}.{hf_name}.weight"
            plan[f"blk.{i}.{gguf_name}.weight"] = (hf_full_name, shape(dims))
    return plan


def _dequantize(tensor, path):
    """The tensor as a float32 array in numpy (Hugging Face) order: [out, in] for a matrix.

    GGUF lists dimensions fastest-first ([in, out]); GGUFReader already gives
    `data` in numpy order (rows of packed bytes for block quantizations), and
    dequantize unpacks each row, so only the dtype changes here.
    """
    try:
        values = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
    except NotImplementedError as error:
        raise DataError(f"{path}: tensor {tensor.name} is stored as {tensor.tensor_type.name}, "
                        "which the gguf package cannot dequantize; expected F32, F16, BF16 or a "
                        "llama.cpp block quantization such as Q8_0 or Q4_K") from error
    return np.array(values, dtype=np.float32).reshape(tuple(reversed(tensor.shape.tolist())))


def _unpermute(weight, num_heads):
    """Undoes llama.cpp's LlamaModel.permute of a query or key projection.

    Hugging Face rotates dimension j of a head with dimension j + head_dim/2;
    GGML rotates adjacent pairs (2j, 2j+1). The converter therefore reorders
    each head's rows from (half, j) to (j, half); swapping back restores them.
    """
    rows = weight.shape[0]
    return (weight.reshape(num_heads, rows // num_heads // 2, 2, *weight.shape[1:])
            .swapaxes(1, 2).reshape(weight.shape))
