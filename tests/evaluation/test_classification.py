import numpy as np
import pytest

from tfllm.evaluation import classification


def test_report_matches_hand_computation():
    labels = ["a", "b", "c"]
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 2, 2]
    report = classification.classification_report(y_true, y_pred, labels)
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    # a: p=1, r=2/3 -> f1=0.8; b: p=1/2, r=1/2 -> 0.5; c: p=1/2, r=1 -> 2/3
    assert report["per_label"]["a"]["f1"] == pytest.approx(0.8)
    assert report["per_label"]["b"]["f1"] == pytest.approx(0.5)
    assert report["per_label"]["c"]["f1"] == pytest.approx(2 / 3)
    assert report["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert report["per_label"]["a"]["support"] == 3


def test_labels_absent_from_truth_and_predictions_do_not_count_in_macro_f1():
    report = classification.classification_report([0, 1], [0, 1], ["a", "b", "never"])
    assert report["macro_f1"] == pytest.approx(1.0)
    assert report["per_label"]["never"]["support"] == 0


def test_majority_baseline():
    assert classification.majority_baseline(np.array([2, 2, 1, 0]), 3) == pytest.approx(0.5)
