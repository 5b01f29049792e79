"""A damaged newest backup: the run resumes from the complete one before it, exactly as if
never stopped, with a warning naming both; no usable backup: a DataError naming the file and
what is wrong, before any training."""

import json
import os
import shutil

import keras
import numpy as np
import pytest

import tfllm
from tests.helpers import kill_at_step, smoke_config, toy_topics, write_csv
from tfllm.errors import DataError
from tfllm.training import backup

NEWEST, PREVIOUS = "step-000000004", "step-000000003"


def config_for(data):
    """3 epochs of 3 steps, backups every 2 steps and at epoch ends: a run killed after step
    5 keeps the backups of steps 3 (epoch 1's end) and 4."""
    config = smoke_config(train=data, batch_size=8)
    config.train.epochs = 3
    config.train.backup_every_steps = 2
    return config


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(config, the uninterrupted run's workdir, a workdir killed after step 5)."""
    tmp = tmp_path_factory.mktemp("fallback")
    config = config_for(write_csv(tmp / "train.csv", toy_topics(40)))
    reference, killed = str(tmp / "reference"), str(tmp / "killed")
    tfllm.train(config, reference)
    with pytest.MonkeyPatch.context() as monkeypatch:
        kill_at_step(monkeypatch, 5)
        with pytest.raises(KeyboardInterrupt):
            tfllm.train(config, killed)
    assert sorted(os.listdir(os.path.join(killed, "backup"))) == [PREVIOUS, NEWEST]
    return config, reference, killed


def truncated(path):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def emptied(path):
    open(path, "wb").close()


def flipped(path):
    """One bit flipped in the middle of the file; in state.json, in a digit of the step
    ("step": 4 becomes "step": 5), so that the file still parses."""
    with open(path, "rb") as f:
        data = bytearray(f.read())
    at = data.index(b'"step": 4') + len(b'"step": ') if path.endswith(".json") else len(data) // 2
    data[at] ^= 0x01
    with open(path, "wb") as f:
        f.write(data)


def damaged_copy(killed, destination, damage, name, steps=(NEWEST,)):
    shutil.copytree(killed, destination)
    for step in steps:
        damage(os.path.join(destination, "backup", step, name))
    return str(destination)


def model_weights(workdir):
    model = keras.saving.load_model(os.path.join(workdir, "model.keras"), compile=False)
    return model.get_weights()


@pytest.mark.parametrize("damage", [truncated, emptied, flipped])
@pytest.mark.parametrize("name", [backup.VARIABLES, backup.STATE])
def test_a_damaged_newest_backup_is_passed_over_for_the_previous_one(
        runs, tmp_path, capsys, damage, name):
    workdir = damaged_copy(runs[2], tmp_path / "run", damage, name)
    resume = backup.latest(os.path.join(workdir, "backup"))
    assert resume.step == 3 and resume.directory.endswith(PREVIOUS)
    warning = capsys.readouterr().out
    assert f"warning: {os.path.join(workdir, 'backup', NEWEST, name)}: " in warning
    assert f"resuming from the previous backup {resume.directory}" in warning


@pytest.mark.parametrize("damage,name", [(truncated, backup.VARIABLES), (flipped, backup.STATE)])
def test_the_run_resumed_from_the_previous_backup_ends_as_if_never_stopped(
        runs, tmp_path, capsys, damage, name):
    config, reference, killed = runs
    workdir = damaged_copy(killed, tmp_path / "run", damage, name)
    tfllm.train(config, workdir)
    out = capsys.readouterr().out
    assert f"{NEWEST}/{name}: " in out and f"previous backup {workdir}/backup/{PREVIOUS}" in out
    assert "resumed from step 3 (after epoch 1)" in out
    for ours, theirs in zip(model_weights(workdir), model_weights(reference), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
        assert [json.loads(line)["step"] for line in f] == [3, 6, 9]  # no step twice


def test_no_usable_backup_is_a_data_error_naming_the_file_before_any_training(runs, tmp_path):
    config, _, killed = runs
    workdir = damaged_copy(killed, tmp_path / "run", truncated, backup.VARIABLES,
                           steps=(NEWEST, PREVIOUS))
    with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
        logged = f.read()
    newest = os.path.join(workdir, "backup", NEWEST, backup.VARIABLES)
    with pytest.raises(DataError, match=rf"{newest}: damaged \(.+\); so is every older backup "
                                        r"\(.*step-000000003/variables.npz: damaged"):
        tfllm.train(config, workdir)
    with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
        assert f.read() == logged  # nothing trained, nothing cut
