"""Integrated gradients: the embedding-path forward pass, completeness, and `tfllm explain`."""

import copy
import json
import os
import subprocess
import sys

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

import tfllm
from tests import helpers
from tfllm.errors import TfllmError
from tfllm.tasks.classification import attributions
from tfllm.tasks.classification import head as heads

REPO = helpers.REPO
SPORT = "the goal and the match number 7"
FOOD = "some cheese with the bread number 7"


@pytest.fixture(scope="module")
def workdir(topics_run):
    """The shared toy-topics run (tests/conftest.py): labels food and sport."""
    return topics_run[1]


@pytest.fixture(scope="module")
def classifier(workdir):
    return tfllm.load(workdir)


def tiny_backbone(vocabulary_size, num_layers, max_sequence_length=24):
    return keras_hub.models.BertBackbone(
        vocabulary_size=vocabulary_size, num_layers=num_layers, num_heads=2, hidden_dim=8,
        intermediate_dim=16, dropout=0.0, max_sequence_length=max_sequence_length)


def forward_error(model, features):
    embeddings = attributions.token_embeddings(model, features["token_ids"])
    ours = attributions.logits_from_embeddings(model, embeddings, features).numpy()
    return np.abs(ours - model(features, training=False).numpy()).max()


def test_forward_from_embeddings_reproduces_the_models_logits(classifier):
    single = classifier._features(tf.constant([SPORT, FOOD, "x"]))
    # Eager: the run's traced feature function has seen single texts only.
    pairs = classifier.to_features(tf.constant([SPORT, FOOD]), tf.constant(["the team", "soup"]))
    assert forward_error(classifier.model, single) < 1e-5  # mean pooling, padded features
    assert forward_error(classifier.model, pairs) < 1e-5  # segment ids 0 and 1


def test_forward_from_embeddings_reproduces_the_cls_head(classifier):
    keras.utils.set_random_seed(0)
    model = heads.build_classifier(tiny_backbone(120, num_layers=2), 3, dropout=0.1,
                                   pooling="cls")
    features = classifier._features(tf.constant([SPORT, FOOD]))
    assert forward_error(model, features) < 1e-5


@pytest.mark.parametrize("text,target", [(SPORT, None), (FOOD, None), (SPORT, "food"),
                                         ("the coach scored", None)])
def test_attributions_add_up_to_the_logit_change(classifier, text, target):
    explanation = attributions.explain(classifier, text, target=target)
    delta = explanation.logit - explanation.baseline_logit
    assert abs(delta) > 0.05  # a real change to attribute
    assert abs(np.sum(explanation.attributions) - delta) <= 0.05 * abs(delta)
    assert explanation.completeness_gap < 0.005  # measured ~1e-4 with 64 steps
    probabilities = classifier.predict([text])[0]["probabilities"]
    assert explanation.probability == pytest.approx(probabilities[explanation.label], abs=1e-5)
    if target:
        assert explanation.label == target
    tokens = explanation.tokens
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and "[PAD]" not in tokens
    assert explanation.attributions[0] == 0 and explanation.attributions[-1] == 0


def test_more_steps_shrink_the_completeness_gap(classifier):
    coarse = attributions.explain(classifier, SPORT, steps=4)
    fine = attributions.explain(classifier, SPORT, steps=64)
    assert fine.completeness_gap < coarse.completeness_gap


def test_topic_words_outweigh_filler_words(classifier):
    sport = dict(attributions.explain(classifier, SPORT).words())
    food = dict(attributions.explain(classifier, FOOD).words())
    # "number" is in every toy example; "the" only in sport ones, so it counts against food.
    assert min(sport["goal"], sport["match"]) > sport["number"]
    assert min(food["cheese"], food["bread"]) > food["the"]


def test_a_model_that_reads_one_token_attributes_everything_to_it(classifier):
    """No transformer layer, mean pooling, zero positions and segments: the "sport" logit is
    w . LayerNorm(embedding) summed over tokens, and only "goal"'s embedding has a component
    along w; every other token's path stays in w's null space, so its attribution is 0."""
    vocabulary = classifier.preprocessor.tokenizer.get_vocabulary()
    goal = vocabulary.index("goal")
    backbone = tiny_backbone(len(vocabulary), num_layers=0)
    model = heads.build_classifier(backbone, 2, 0.0, pooling="mean")
    rng = np.random.default_rng(0)
    table = rng.normal(size=(len(vocabulary), 8)).astype(np.float32)
    table[:, :2] = 0.0  # dims 0 and 1: only "goal" has them
    # Zero mean per row, so LayerNorm keeps dims 0 and 1 at 0 (only scales the row).
    table[:, 2:] -= table[:, 2:].mean(axis=1, keepdims=True)
    table[goal] = [3.0, -3.0, 0, 0, 0, 0, 0, 0]
    backbone.token_embedding.embeddings.assign(table)
    backbone.position_embedding.position_embeddings.assign(
        np.zeros(backbone.position_embedding.position_embeddings.shape, np.float32))
    backbone.segment_embedding.embeddings.assign(np.zeros((2, 8), np.float32))
    kernel = np.zeros((8, 2), np.float32)
    kernel[:2, classifier.labels.index("sport")] = [1.0, -1.0]
    model.get_layer("logits").kernel.assign(kernel)
    one_token = copy.copy(classifier)
    one_token.model = model

    explanation = attributions.explain(one_token, "the team scored a goal in the match")
    assert explanation.label == "sport"
    scores = dict(explanation.words())
    delta = explanation.logit - explanation.baseline_logit
    assert scores["goal"] == pytest.approx(delta, rel=1e-3)
    assert max(abs(s) for w, s in scores.items() if w != "goal") < 1e-4 * scores["goal"]


def test_bad_input_is_a_user_error(classifier, workdir, tmp_path):
    with pytest.raises(TfllmError, match=r"unknown label 'music'.*\['food', 'sport'\]"):
        attributions.explain(classifier, SPORT, target="music")
    with pytest.raises(TfllmError, match="empty"):
        attributions.explain(classifier, "   ")
    with pytest.raises(TfllmError, match="trained on single texts"):
        attributions.explain(classifier, SPORT, text_pair="soup")
    language_model = tmp_path / "lm"
    language_model.mkdir()
    with open(os.path.join(workdir, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    (language_model / "config.json").write_text(json.dumps({**config, "task": "language_modeling"}))
    (language_model / "model.keras").write_text("")
    with pytest.raises(TfllmError, match="is a language_modeling run; explain needs a text "):
        attributions.load_classifier(str(language_model))


def test_words_merge_pieces_and_views_show_every_word():
    explanation = attributions.Explanation(
        tokens=["[CLS]", "foot", "##ball", "<b>", "[SEP]", "soup", "[SEP]"],
        attributions=np.array([0.0, 0.5, 0.25, 0.25, 0.0, -0.5, 0.0], np.float32),
        label="sport", probability=0.9, logit=0.75, baseline_logit=0.25, steps=8)
    assert explanation.words() == [("football", 0.75), ("<b>", 0.25), ("[SEP]", 0.0),
                                   ("soup", -0.5)]
    assert explanation.completeness_gap == pytest.approx(0.0)
    lines = attributions.to_terminal(explanation)
    assert lines[0].split() == ["football", "+0.7500", "█" * attributions.BAR_WIDTH, "+"]
    assert lines[-1].split()[1:] == ["-0.5000", "█" * 20, "-"]
    page = attributions.to_html(explanation)
    assert "&lt;b&gt;" in page and "<b>" not in page  # tokens are escaped
    assert "rgba(0, 150, 0, 1.000)" in page and "rgba(210, 0, 0, 0.667)" in page
    assert "sport (probability 0.9000), completeness gap 0.00%" in page


def test_png_heat_map(classifier, tmp_path):
    path = tmp_path / "goal.png"
    attributions.save_png(attributions.explain(classifier, SPORT, steps=8), str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def explain_cli(*args):
    return subprocess.run([sys.executable, "-m", "tfllm.cli.main", "explain", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=False)


def test_cli_prints_tokens_and_writes_the_heat_map(workdir, tmp_path):
    output = tmp_path / "goal.html"
    result = explain_cli(f"--workdir={workdir}", f"--text={SPORT}", f"--output={output}",
                         "--steps=32")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[:len(SPORT.split())]] == SPORT.split()
    assert "sport: probability" in result.stdout and "completeness gap" in result.stdout
    assert f"heat map: {output}" in result.stdout
    page = output.read_text(encoding="utf-8")
    assert all(f">{word}</span>" in page for word in SPORT.split())


def test_cli_unknown_target_is_one_line_and_exit_code_2(workdir):
    result = explain_cli(f"--workdir={workdir}", "--text=goal", "--target=music")
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert result.returncode == 2 and len(errors) == 1, result.stderr[-3000:]
    assert "--target: unknown label 'music'; the run's labels are ['food', 'sport']" in errors[0]
    assert "Traceback" not in result.stderr
