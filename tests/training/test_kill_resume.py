"""SIGKILL at any point, start the same command again: the run ends as if never killed."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from tests.helpers import finish, start, toy_topics, write_csv

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def train_args(data, workdir):
    """A deterministic smoke run: 3 epochs of 3 steps, backups every 2 steps and at epoch ends."""
    return ["train", "--config=configs/bert_classifier.py:smoke", f"--config.data.train={data}",
            "--config.train.epochs=3", "--config.train.backup_every_steps=2",
            "--config.runtime.deterministic=True", f"--workdir={workdir}"]


def run(*args):
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600, check=False)


def killed_at(point, n, args):
    result = run("-m", "tests.training.killer", point, str(n), *args)
    assert result.returncode == -9, result.stderr[-3000:]  # SIGKILL, not an error
    return result


def completed(args):
    result = run("-m", "tfllm.cli.main", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def weights(workdir):
    return keras.saving.load_model(os.path.join(workdir, "model.keras")).get_weights()


def metrics(workdir):
    with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.mark.slow
def test_killed_anywhere_and_restarted_ends_with_the_uninterrupted_weights(tmp_path):
    data = write_csv(tmp_path / "train.csv", toy_topics(40))
    reference, resumed = str(tmp_path / "reference"), str(tmp_path / "resumed")
    # The uninterrupted run shares no file with the killed one: it runs beside it.
    uninterrupted = start(sys.executable, "-m", "tfllm.cli.main", *train_args(data, reference))
    args = train_args(data, resumed)

    killed_at("batch", 4, args)  # mid epoch 2; the latest backup is epoch 1's end (step 3)
    killed_at("backup", 6, args)  # resumes from step 3; dies writing epoch 2's end backup
    assert os.path.isdir(os.path.join(resumed, "backup", "step-000000006.tmp"))
    killed_at("checkpoint", 1, args)  # resumes mid epoch 2 (step 4); dies saving a checkpoint
    result = completed(args)  # resumes from the last complete backup and finishes
    finish(uninterrupted)

    assert "resumed from step" in result.stdout
    assert not os.path.exists(os.path.join(resumed, "backup"))  # removed once model.keras is
    for ours, theirs in zip(weights(resumed), weights(reference), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    logged, expected = metrics(resumed), metrics(reference)
    assert [line["epoch"] for line in logged] == [1, 2, 3]  # no epoch logged twice
    assert [line["step"] for line in logged] == [3, 6, 9]
    for ours, theirs in zip(logged, expected, strict=True):
        assert ours["val_loss"] == theirs["val_loss"]
