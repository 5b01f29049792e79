import numpy as np
import pytest

from tfllm.tasks.classification import report as classification


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


def test_micro_f1_pools_every_decision():
    # TP = 4 of 6 decisions; pooled FP = FN = 2, so micro-F1 = 4 / (4 + (2 + 2) / 2) = 2/3.
    report = classification.classification_report([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2],
                                                  ["a", "b", "c"])
    assert report["micro_f1"] == pytest.approx(2 / 3)


def test_expected_calibration_error_matches_hand_computation():
    # Confidences 0.9, 0.9 (one right), 0.6 (right), 0.55 (wrong), 5 bins of width 0.2:
    # bin (0.8, 1]: confidence 0.9, accuracy 0.5 -> gap 0.4, weight 2/4
    # bin (0.4, 0.6]: confidence 0.575, accuracy 0.5 -> gap 0.075, weight 2/4
    probabilities = [[0.9, 0.1], [0.1, 0.9], [0.6, 0.4], [0.45, 0.55]]
    y_true = [0, 0, 0, 0]
    result = classification.calibration(probabilities, y_true, bins=5)
    assert result["ece"] == pytest.approx(0.5 * 0.4 + 0.5 * 0.075)
    assert [(b["lower"], b["count"], b["accuracy"]) for b in result["bins"]] == [
        (pytest.approx(0.4), 2, 0.5), (pytest.approx(0.8), 2, 0.5)]
    perfectly_calibrated = classification.calibration([[1.0, 0.0], [0.0, 1.0]], [0, 1])
    assert perfectly_calibrated["ece"] == 0.0


def test_evaluation_report_takes_probabilities():
    report = classification.evaluation_report([0, 1, 1], [[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]],
                                              ["a", "b"], "validation")
    assert report["accuracy"] == pytest.approx(2 / 3)
    assert report["ece"] == report["calibration"]["ece"] > 0
    assert report["majority_baseline"] == pytest.approx(2 / 3)
