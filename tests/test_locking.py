"""One writer per directory (`tfllm.locking`): a second process fails at once, naming the
holder; a holder killed with SIGKILL leaves the lock free; nothing is mixed."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import keras
import numpy as np
import pytest

from tests import helpers
from tfllm import locking
from tfllm.errors import TfllmError

HOLD = """
import sys, time
from tfllm import locking
with locking.locked(sys.argv[1], "a test"):
    print("held", flush=True)
    time.sleep(600)
"""


# `tfllm ARGS...` in this interpreter; then says its exit code and whether it had imported
# TensorFlow by then.
CLI_REPORTING_TENSORFLOW = """
import sys
from tfllm.cli import main
try:
    code = main.main(["tfllm"] + sys.argv[1:])
except SystemExit as stop:
    code = stop.code
sys.stderr.flush()
print("exit", code, "tensorflow", "tensorflow" in sys.modules)
"""


def hold_in_subprocess(directory):
    """A process holding `directory`'s lock (it has said so when this returns)."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(directory)],
                               stdout=subprocess.PIPE, text=True, cwd=helpers.REPO)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_held_directory_is_refused_with_its_holder_and_freed_by_sigkill(tmp_path):
    holder = hold_in_subprocess(tmp_path)
    try:
        with pytest.raises(locking.DirectoryInUse, match=rf"in use by pid {holder.pid} on "):
            with locking.locked(str(tmp_path), "this run"):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with locking.locked(str(tmp_path), "this run"):  # the dead holder's lock is free
        assert json.load(open(tmp_path / locking.LOCK_FILE))["pid"] == os.getpid()
    assert not os.path.exists(tmp_path / locking.LOCK_FILE)  # let go: the file is gone


def test_the_holding_thread_nests_and_another_thread_is_refused(tmp_path):
    refused = []

    def another_run():
        try:
            with locking.locked(str(tmp_path), "another run"):
                refused.append(False)
        except locking.DirectoryInUse as error:
            refused.append(str(error))

    with locking.locked(str(tmp_path), "this run"):
        with locking.locked(str(tmp_path), "the run the command line started"):
            thread = threading.Thread(target=another_run)
            thread.start()
            thread.join()
        assert os.path.exists(tmp_path / locking.LOCK_FILE)  # the inner exit let nothing go
    assert f"pid {os.getpid()}" in refused[0]
    assert not os.path.exists(tmp_path / locking.LOCK_FILE)


def test_a_directory_the_lock_made_and_nothing_filled_is_removed(tmp_path):
    with pytest.raises(ValueError):
        with locking.locked(str(tmp_path / "new"), "this run"):
            raise ValueError("refused before writing anything")
    assert not os.path.exists(tmp_path / "new")
    with locking.locked(str(tmp_path / "kept"), "this run"):
        (tmp_path / "kept" / "config.json").write_text("{}")
    assert os.listdir(tmp_path / "kept") == ["config.json"]


def test_a_file_is_not_a_directory_and_an_unwritable_place_is_refused(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(TfllmError, match="is a file; expected a directory for this export"):
        with locking.locked(str(path), "this export"):
            pass
    for place in (str(path / "run"), "/sys/tfllm-run"):  # under a file; not permitted
        with pytest.raises(TfllmError, match=f"{place}: cannot write there"):
            with locking.locked(place, "this run"):
                pass


def test_train_and_export_refuse_an_unwritable_directory_before_any_work(smoke_cli_run):
    workdir, _ = smoke_cli_run
    train, export = helpers.tfllm_all(
        ("train", helpers.SMOKE, "--workdir=/sys/tfllm-run"),
        ("export", f"--workdir={workdir}", "--export_dir=/sys/tfllm-export"))
    assert train.returncode == 2 and "data:" not in train.stdout  # before the data is read
    assert "/sys/tfllm-run: cannot write there" in helpers.error_line(train)
    assert export.returncode == 2
    assert "/sys/tfllm-export: cannot write there" in helpers.error_line(export)


def weights(workdir):
    model = keras.saving.load_model(os.path.join(workdir, "model.keras"), compile=False)
    return model.get_weights()


@pytest.mark.slow
def test_a_second_train_into_a_live_run_fails_and_the_first_is_as_if_alone(
        tmp_path, smoke_cli_run):
    alone, _ = smoke_cli_run  # the same command, run alone
    workdir = str(tmp_path / "run")
    first = helpers.start(helpers.TFLLM, "train", helpers.SMOKE, f"--workdir={workdir}")
    lock = os.path.join(workdir, locking.LOCK_FILE)
    while not os.path.exists(lock) or f'"pid": {first.pid}' not in open(lock).read():
        assert first.poll() is None, first.communicate()
        time.sleep(0.05)
    started = time.perf_counter()
    second = subprocess.run([sys.executable, "-c", CLI_REPORTING_TENSORFLOW, "train",
                             helpers.SMOKE, f"--workdir={workdir}"], cwd=helpers.REPO,
                            capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    assert first.poll() is None, "the first run ended before the second was refused"
    assert second.stdout.split() == ["exit", "2", "tensorflow", "False"], second.stderr
    assert second.stderr.count("\n") == 1  # one line: the refusal
    assert f"is in use by pid {first.pid} on " in helpers.error_line(second)
    print(f"second process refused after {elapsed:.2f} s, before importing TensorFlow")
    helpers.finish(first)
    with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
        assert [json.loads(line)["epoch"] for line in f] == [1, 2]  # no epoch twice
    for ours, theirs in zip(weights(workdir), weights(alone), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert not os.path.exists(lock)
