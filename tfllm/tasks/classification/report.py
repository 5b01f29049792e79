"""Classification metrics: accuracy, macro and micro F1, per-label precision and recall,
confusion matrix, and calibration (expected calibration error, reliability bins)."""

import numpy as np


def confusion_matrix(y_true, y_pred, num_classes):
    """Returns counts[true, predicted] as a (num_classes, num_classes) int array."""
    counts = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(counts, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return counts


def classification_report(y_true, y_pred, labels):
    """Returns accuracy, macro-F1, per-label precision/recall/F1/support and the confusion matrix.

    Macro-F1 averages over labels that occur in `y_true` or `y_pred`; a label
    absent from both says nothing about the model and is left out (as
    scikit-learn does with `labels=None`).

    Args:
        y_true: true class ids.
        y_pred: predicted class ids.
        labels: label names; index = class id.
    """
    counts = confusion_matrix(y_true, y_pred, len(labels))
    true_positives = np.diag(counts).astype(np.float64)
    predicted = counts.sum(axis=0)
    support = counts.sum(axis=1)
    precision = np.divide(true_positives, predicted, out=np.zeros_like(true_positives),
                          where=predicted > 0)
    recall = np.divide(true_positives, support, out=np.zeros_like(true_positives),
                       where=support > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(true_positives),
                   where=denominator > 0)
    present = (support + predicted) > 0
    accuracy = float(true_positives.sum() / max(counts.sum(), 1))
    return {
        "examples": int(counts.sum()),
        "accuracy": accuracy,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        # Every example has exactly one true and one predicted label, so pooled false
        # positives equal pooled false negatives and micro-F1 equals accuracy.
        "micro_f1": accuracy,
        "per_label": {
            label: {"precision": float(precision[i]), "recall": float(recall[i]),
                    "f1": float(f1[i]), "support": int(support[i])}
            for i, label in enumerate(labels)
        },
        "labels": list(labels),
        "confusion_matrix": counts.tolist(),
    }


def majority_baseline(y_true, num_classes):
    """Accuracy of always predicting the most frequent true class."""
    y_true = np.asarray(y_true)
    return float(np.bincount(y_true, minlength=num_classes).max() / max(len(y_true), 1))


def calibration(probabilities, y_true, bins=15):
    """Expected calibration error and reliability bins of the top-class confidence.

    Confidences (the highest probability of each example) fall into `bins`
    equal-width bins over [0, 1]; ECE is the example-weighted mean gap
    between a bin's accuracy and its mean confidence (Guo et al., 2017). A
    model that says 0.8 and is right 80% of the time there has no gap.

    Returns:
        {"ece", "bins": [{"lower", "upper", "count", "confidence", "accuracy"}]}
        with empty bins left out.
    """
    probabilities = np.asarray(probabilities, np.float64)
    confidence = probabilities.max(axis=-1)
    correct = probabilities.argmax(axis=-1) == np.asarray(y_true)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Bin i holds (edges[i], edges[i + 1]]; a confidence of exactly 0 joins the first.
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    rows, ece = [], 0.0
    for i in range(bins):
        members = index == i
        count = int(members.sum())
        if not count:
            continue
        mean_confidence = float(confidence[members].mean())
        accuracy = float(correct[members].mean())
        ece += count / len(confidence) * abs(accuracy - mean_confidence)
        rows.append({"lower": float(edges[i]), "upper": float(edges[i + 1]), "count": count,
                     "confidence": mean_confidence, "accuracy": accuracy})
    return {"ece": float(ece), "bins": rows}


def evaluation_report(y_true, probabilities, labels, split):
    """`classification_report` of the top class, calibration, the majority-class baseline and
    the split's name.

    Args:
        y_true: true class ids.
        probabilities: predicted class probabilities, shape (examples, labels).
        labels: label names; index = class id.
        split: what was evaluated ("validation" or the data file).
    """
    probabilities = np.asarray(probabilities)
    report = classification_report(y_true, probabilities.argmax(axis=-1), labels)
    report["calibration"] = calibration(probabilities, y_true)
    report["ece"] = report["calibration"]["ece"]
    report["majority_baseline"] = majority_baseline(y_true, len(labels))
    report["split"] = split
    return report
