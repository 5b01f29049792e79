"""Packing without cross-talk: a document's logits in a packed block are its logits alone
(GPT-2 and Llama), the loss is the documents' own, and the default run trains so."""

import json
import os

import keras
import keras_hub
import numpy as np
import pytest

from tfllm.configs import gpt_lm
from tfllm.data import packing
from tfllm.models import document_mask
from tfllm.models import llama
from tfllm.training import compiling

END = 0
# Each document as run alone: its leading end-of-text, then its tokens.
DOCUMENTS = [[END, 5, 6, 7, 8], [END, 9, 10, 11], [END, 12, 13, 14, 15, 16]]


def tiny(architecture):
    """A random float32 causal LM: 2 layers, hidden 16, vocabulary 20, no dropout."""
    keras.utils.set_random_seed(1)
    if architecture == "gpt2":
        backbone = keras_hub.models.GPT2Backbone(
            vocabulary_size=20, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
            dropout=0.0, max_sequence_length=32)
        return keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    backbone = llama.Llama3Backbone(  # grouped-query attention, tied embeddings
        vocabulary_size=20, num_layers=2, num_query_heads=4, num_key_value_heads=2,
        hidden_dim=16, intermediate_dim=32, tie_word_embeddings=True)
    return keras_hub.models.Llama3CausalLM(backbone=backbone, preprocessor=None)


def packed(documents, block_length):
    """packing.pack's blocks of the documents' stream, one document per record."""
    stream = np.array(sum(documents, []) + [END])
    return packing.pack(stream, np.ones(len(stream)), block_length, pad_id=END,
                        starts=stream == END)


def features(blocks, names=("token_ids", "padding_mask", "segment_ids", "positions")):
    return {name: blocks[name] for name in names}


def alone(model, document):
    ids = np.array([document])
    return np.asarray(model({"token_ids": ids, "padding_mask": np.ones_like(ids)}))[0]


@pytest.mark.parametrize("architecture", ["gpt2", "llama"])
def test_a_packed_document_has_its_logits_alone(architecture):
    model = document_mask.with_document_mask(tiny(architecture))
    blocks = packed(DOCUMENTS, 16)  # 15 tokens and one of padding in one block
    masked = np.asarray(model(features(blocks)))[0]
    stream = np.asarray(model(features(blocks, ("token_ids", "padding_mask"))))[0]
    segments = blocks["segment_ids"][0]
    for k, document in enumerate(DOCUMENTS, start=1):
        expected = alone(model, document)
        np.testing.assert_allclose(masked[segments == k], expected, atol=1e-5, rtol=0)
        if k > 1:  # today's packing: a later document sees the ones before it
            assert np.abs(stream[segments == k] - expected).max() > 1e-2
    if architecture == "gpt2":  # the mask alone is not enough: learned positions restart at 0
        positions = np.arange(16)[None]
        shifted = np.asarray(model({**features(blocks), "positions": positions}))[0]
        assert np.abs(shifted[segments == 2] - alone(model, DOCUMENTS[1])).max() > 1e-2


def test_the_loss_is_the_documents_own_loss():
    """Two blocks (8 tokens each, documents 3 and 4 in the second, then padding); the first
    target of each document (a 'prompt') carries no loss."""
    documents = [[END, 5, 6, 7], [END, 8, 9, 10], [END, 11, 12, 13, 14], [END, 15]]
    stream = np.array(sum(documents, []) + [END])
    weights = np.ones(len(stream), np.float32)
    weights[np.flatnonzero(stream == END)[:-1] + 1] = 0  # each document's first target
    blocks = packing.pack(stream, weights, 8, pad_id=END, starts=stream == END)
    model = document_mask.with_document_mask(tiny("gpt2"))
    compiling.compile_token_model(model, gpt_lm.get_config("smoke"), steps_per_epoch=1)
    loss = model.evaluate(features(blocks), blocks["targets"], sample_weight=blocks["weights"],
                          verbose=0)[0]

    total, count, start = 0.0, 0.0, 0  # the reference: each document run alone, in numpy
    for document in documents:
        logits = alone(model, document).astype(np.float64)
        log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        targets = stream[start + 1:start + len(document) + 1]
        target_weights = weights[start + 1:start + len(document) + 1]
        total -= (target_weights * log_probs[np.arange(len(document)), targets]).sum()
        count += target_weights.sum()
        start += len(document)
    assert loss == pytest.approx(total / count, abs=1e-5)


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_the_model_round_trips_and_without_segment_ids_is_keras_hubs(tmp_path):
    plain = tiny("llama")
    model = document_mask.with_document_mask(plain)
    assert isinstance(model, document_mask.DocumentLlama3CausalLM)
    assert model.backbone is plain.backbone  # the same layers and weights
    assert document_mask.with_document_mask(model) is model
    ids = np.array([[END, 5, 6, 7]])
    inputs = {"token_ids": ids, "padding_mask": np.ones_like(ids)}
    np.testing.assert_array_equal(np.asarray(model(inputs)), np.asarray(plain(inputs)))
    rebuilt = type(model).from_config(model.get_config())
    assert isinstance(rebuilt.backbone, llama.Llama3Backbone)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", compile=False)
    assert type(loaded) is document_mask.DocumentLlama3CausalLM
    blocks = features(packed(DOCUMENTS, 16))
    np.testing.assert_allclose(np.asarray(loaded(blocks)), np.asarray(model(blocks)), atol=1e-6)
    with pytest.raises(TypeError, match="no document-masked form of GPT2Backbone"):
        document_mask.with_document_mask(tiny("gpt2").backbone)


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_the_default_language_model_run_trains_on_documents(gpt_run):
    """The shared `:smoke` run (tests/conftest.py) trains with the default 'documents'
    packing, its loss falls, and its model.keras is the document-masked GPT-2."""
    workdir, _ = gpt_run
    with open(os.path.join(workdir, "config.json"), encoding="utf-8") as f:
        assert json.load(f)["data"]["packing"] == "documents"
    with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
        epochs = [json.loads(line) for line in f]
    assert epochs[-1]["loss"] < epochs[0]["loss"]
    model = keras.saving.load_model(os.path.join(workdir, "model.keras"), compile=False)
    assert type(model) is document_mask.DocumentGPT2CausalLM
