"""Classification metrics from predicted and true class ids: accuracy, F1, confusion."""

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
    return {
        "examples": int(counts.sum()),
        "accuracy": float(true_positives.sum() / max(counts.sum(), 1)),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
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


def evaluation_report(y_true, y_pred, labels, split):
    """`classification_report` plus the majority-class baseline and the split's name."""
    report = classification_report(y_true, y_pred, labels)
    report["majority_baseline"] = majority_baseline(y_true, len(labels))
    report["split"] = split
    return report
