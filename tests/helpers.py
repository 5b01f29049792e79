"""Small builders shared by tests: toy sizes so each test runs in seconds."""

import csv
import os
import subprocess
import sys

from tfllm.configs import bert_classifier

TOY_BACKBONE = {"num_layers": 1, "num_heads": 2, "hidden_dim": 8, "intermediate_dim": 16}


def smoke_config(**data_overrides):
    """The `:smoke` config with `data` fields overridden."""
    config = bert_classifier.get_config("smoke")
    for key, value in data_overrides.items():
        config.data[key] = value
    return config


def write_csv(path, rows, header=("text", "label")):
    """Writes rows (tuples) under `header` as a CSV file and returns its path as str."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def toy_topics(n_per_label=40):
    """A learnable two-topic dataset: sport words vs. food words."""
    sport = ["goal", "match", "team", "score", "coach", "league", "player", "stadium"]
    food = ["pasta", "bread", "cheese", "soup", "salad", "recipe", "oven", "spice"]
    rows = []
    for i in range(n_per_label):
        rows.append((f"the {sport[i % 8]} and the {sport[(i * 3 + 1) % 8]} number {i}", "sport"))
        rows.append((f"some {food[i % 8]} with {food[(i * 5 + 2) % 8]} number {i}", "food"))
    return rows



def train_until_learned(tmp, rows, epochs=5):
    """Trains the smoke classifier on `rows` (full passes, batch 8, learning rate 0.01, a
    quarter held out) in `tmp/run`; returns (report, workdir)."""
    import tfllm  # pylint: disable=import-outside-toplevel

    config = smoke_config(train=write_csv(os.path.join(tmp, "train.csv"), rows),
                          validation_fraction=0.25, batch_size=8)
    config.train.epochs = epochs
    config.train.steps_per_epoch = 0
    config.train.learning_rate = 0.01
    workdir = os.path.join(tmp, "run")
    return tfllm.train(config, workdir), workdir


def export_with_cli(workdir, export_dir):
    """Runs `tfllm export`; returns its stdout (the test fails on a non-zero exit)."""
    tfllm_bin = os.path.join(os.path.dirname(sys.executable), "tfllm")
    result = subprocess.run([tfllm_bin, "export", f"--workdir={workdir}",
                             f"--export_dir={export_dir}"],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def saved_model_cli(command, version_dir, *args):
    """Runs `saved_model_cli COMMAND --dir VERSION_DIR ARGS`; returns its stdout.

    `run` loads the graph the TF1 way, as TF Serving does; the tensorflow-text
    ops must be registered first, so the tool runs with tensorflow_text imported.
    """
    tool = ("import sys, tensorflow_text; from tensorflow.python.tools import saved_model_cli; "
            "sys.argv[0] = 'saved_model_cli'; saved_model_cli.main()")
    result = subprocess.run([sys.executable, "-c", tool, command, "--dir", str(version_dir),
                             *args], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout
