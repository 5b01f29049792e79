"""The Python API: tfllm.train and tfllm.load on a CSV of our own."""

import json

import numpy as np
import pytest

import tfllm
from tfllm.errors import DataError, TfllmError


@pytest.fixture
def trained(topics_run):
    """(report, workdir) of the shared toy-topics run (tests/conftest.py)."""
    return topics_run


def test_train_returns_the_validation_report_it_saved(trained):
    report, workdir = trained
    with open(f"{workdir}/eval.json", encoding="utf-8") as f:
        saved = json.load(f)
    assert saved["accuracy"] == report["accuracy"]
    assert report["accuracy"] > report["majority_baseline"]
    assert report["workdir"] == workdir and report["wall_seconds"] > 0


def test_loaded_run_reproduces_the_trained_models_predictions(trained):
    report, workdir = trained
    classifier = tfllm.load(workdir)
    reloaded = classifier.evaluate()
    assert reloaded["confusion_matrix"] == report["confusion_matrix"]
    assert reloaded["accuracy"] == report["accuracy"]


def test_predict_returns_labels_and_normalised_probabilities(trained):
    _, workdir = trained
    results = tfllm.load(workdir).predict(["the team scored a goal", "cheese and bread"])
    assert [r["label"] for r in results] == ["sport", "food"]
    for result in results:
        assert set(result["probabilities"]) == {"food", "sport"}
        assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert result["score"] == max(result["probabilities"].values())


def test_cleaning_applies_at_prediction_time(trained):
    _, workdir = trained
    classifier = tfllm.load(workdir)
    plain = classifier.probabilities(["the team scored a goal"])
    messy = classifier.probabilities(["  THE   Team scored\ta GOAL "])
    np.testing.assert_allclose(plain, messy, rtol=1e-5)


def test_load_of_a_directory_without_a_run_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no model.keras"):
        tfllm.load(str(tmp_path))


def test_text_classification_pipeline_and_task_mismatch(trained):
    _, workdir = trained
    classify = tfllm.pipeline("text-classification", model=workdir)
    results = classify(["the team scored a goal", "cheese and bread"])
    assert [r["label"] for r in results] == ["sport", "food"]
    assert classify("a goal")[0]["score"] > 0.5
    with pytest.raises(TfllmError, match="cannot serve 'text-generation'"):
        tfllm.pipeline("text-generation", model=workdir)
    with pytest.raises(TfllmError, match="unknown pipeline task 'summarization'"):
        tfllm.pipeline("summarization", model=workdir)
