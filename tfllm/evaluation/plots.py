"""PNG charts of a run: training curves, confusion matrix, reliability diagram.

Drawn with matplotlib's object API (no pyplot), so writing a chart never
changes the backend of a notebook or script that imports tfllm.
"""

import os

import numpy as np
from matplotlib.figure import Figure

from tfllm import damaged

_NOT_CURVES = ("epoch", "step", "learning_rate", "examples_per_sec", "tokens_per_sec")


def _save(figure, path):
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return path


def training_curves(metrics_path, path):
    """Each logged metric per epoch, its validation twin on the same axes; the learning rate
    last. Returns `path`."""
    records = damaged.read_json_lines(metrics_path, "one JSON object per epoch, as tfllm "
                                      "train writes metrics.jsonl")
    if not records or any("epoch" not in r for r in records):
        raise damaged.error(metrics_path, "no epochs logged", "a line per epoch with its number")
    epochs = [r["epoch"] for r in records]
    names = [k for k in records[0] if k not in _NOT_CURVES and not k.startswith("val_")]
    panels = names + ["learning_rate"]
    figure = Figure(figsize=(4 * len(panels), 3.2))
    for i, name in enumerate(panels):
        axes = figure.add_subplot(1, len(panels), i + 1)
        axes.plot(epochs, [r.get(name) for r in records], marker="o", label="train")
        if f"val_{name}" in records[0]:
            axes.plot(epochs, [r.get(f"val_{name}") for r in records], marker="o",
                      label="validation")
            axes.legend()
        axes.set_xlabel("epoch")
        axes.set_title(name)
    return _save(figure, path)


def confusion_matrix(report, path):
    """The report's confusion matrix, true labels down, predicted across. Returns `path`."""
    counts = np.asarray(report["confusion_matrix"])
    labels = report["labels"]
    size = max(4.0, 0.5 * len(labels) + 2)
    figure = Figure(figsize=(size + 1, size))
    axes = figure.add_subplot(1, 1, 1)
    image = axes.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axes)
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    threshold = counts.max() / 2 if counts.size else 0
    for (row, column), count in np.ndenumerate(counts):
        axes.text(column, row, str(count), ha="center", va="center",
                  color="white" if count > threshold else "black")
    axes.set_title(f"{report['split']}: accuracy {report['accuracy']:.3f}")
    return _save(figure, path)


def reliability_diagram(report, path):
    """Accuracy against confidence per bin, the diagonal as perfect calibration, and the
    expected calibration error. Returns `path`."""
    bins = report["calibration"]["bins"]
    figure = Figure(figsize=(4.5, 4.5))
    axes = figure.add_subplot(1, 1, 1)
    axes.plot([0, 1], [0, 1], linestyle="--", color="gray", label="perfect calibration")
    axes.bar([b["lower"] for b in bins], [b["accuracy"] for b in bins],
             width=[b["upper"] - b["lower"] for b in bins], align="edge", alpha=0.7,
             edgecolor="black", label="accuracy")
    axes.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o",
              color="black", label="mean confidence")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("confidence")
    axes.set_ylabel("accuracy")
    axes.set_title(f"ECE {report['calibration']['ece']:.3f}")
    axes.legend(loc="upper left")
    return _save(figure, path)


def write_all(report, metrics_path, directory):
    """Writes every chart that applies to `report` (and the training log, if there is one)
    into `directory`; returns their paths."""
    os.makedirs(directory, exist_ok=True)
    written = []
    if os.path.exists(metrics_path):
        written.append(training_curves(metrics_path, os.path.join(directory, "training.png")))
    if "confusion_matrix" in report:
        written.append(confusion_matrix(report, os.path.join(directory, "confusion.png")))
    if "calibration" in report:
        written.append(reliability_diagram(report, os.path.join(directory, "reliability.png")))
    return written
