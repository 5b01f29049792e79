"""Work directories written by tfllm 0.1.0 before the tasks moved into tfllm/tasks/ (the
`:smoke` classifier on the default corpus, the `:smoke` tagger on toy_data's sentences and
the `:smoke` GPT, kept without their logs and checkpoints in tests/fixtures/runs_v0_1)
still load, predict what that version predicted (expected.json, written by it) and export.
"""

import json
import os
import shutil

import numpy as np
import pytest

import tfllm
from tests import helpers

RUNS = os.path.join(helpers.REPO, "tests", "fixtures", "runs_v0_1")
TEXTS = ["What is AI?", "Do you like music?", "Tell me a joke"]


@pytest.fixture(scope="module")
def expected():
    with open(os.path.join(RUNS, "expected.json"), encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A copy of the saved runs (loading writes nothing, but a test must not risk the
    fixtures)."""
    root = tmp_path_factory.mktemp("runs_v0_1")
    for name in ("classifier", "tagger", "gpt"):
        shutil.copytree(os.path.join(RUNS, name), root / name)
    return root


def test_an_old_classifier_run_predicts_as_before_and_exports(runs, expected, tmp_path):
    classifier = tfllm.load(str(runs / "classifier"))
    for result, want in zip(classifier.predict(TEXTS), expected["classifier"], strict=True):
        assert result["label"] == want["label"]
        np.testing.assert_allclose(list(result["probabilities"].values()),
                                   list(want["probabilities"].values()), atol=1e-5)
    assert os.path.isdir(tfllm.export(str(runs / "classifier"), str(tmp_path / "export")))


def test_an_old_tagger_run_finds_the_same_entities(runs, expected):
    tagger = tfllm.load(str(runs / "tagger"))
    found = tagger.predict(["Anna Kim lives in Paris .",
                            "Zoë flew from São Paulo to Tokyo yesterday ."])
    for spans, want in zip(found, expected["tagger"], strict=True):
        assert [{k: v for k, v in s.items() if k != "score"} for s in spans] == [
            {k: v for k, v in s.items() if k != "score"} for s in want]
        np.testing.assert_allclose([s["score"] for s in spans], [s["score"] for s in want],
                                   atol=1e-5)


def test_an_old_language_model_run_generates_the_same_greedy_text(runs, expected):
    assert tfllm.load(str(runs / "gpt")).generate(TEXTS, max_new_tokens=8) == expected["gpt"]
