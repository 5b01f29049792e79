"""Distributed runs train what one process trains on the same global batches: two real worker
processes on 127.0.0.1, and two mirrored replicas in one process."""

import json
import os
import re
import sys

import keras
import numpy as np
import pytest

import tfllm
from tests.helpers import finish, smoke_config, start, toy_topics, write_csv
from tfllm.cli import launch
from tfllm.errors import ConfigError
from tfllm.training import distribution as tfllm_distribution


def metrics(workdir):
    with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def no_dropout(config):
    # Each replica draws its own dropout masks: with dropout, two workers and one process
    # train on the same batches with different masks. Without it they compute the same.
    config.model.backbone.dropout = 0.0
    config.model.head_dropout = 0.0
    return config


@pytest.mark.slow
def test_two_workers_match_each_other_and_a_single_process(tmp_path):
    data = write_csv(tmp_path / "train.csv", toy_topics(40))
    workdir = str(tmp_path / "workers")
    workers = start(sys.executable, "-m", "tfllm.cli.main", "train",
                    "--config=configs/bert_classifier.py:smoke", f"--config.data.train={data}",
                    "--config.model.backbone.dropout=0", "--config.model.head_dropout=0",
                    f"--workdir={workdir}", "--num_workers=2")
    single = str(tmp_path / "single")  # trained here while the workers start up
    config = no_dropout(smoke_config(train=data))
    tfllm.train(config, single)
    printed = finish(workers)

    digests = dict(re.findall(r"\[worker (\d)\] final weights ([0-9a-f]+)", printed))
    assert set(digests) == {"0", "1"} and digests["0"] == digests["1"]  # workers agree
    chief = keras.saving.load_model(os.path.join(workdir, "model.keras"))
    reference = keras.saving.load_model(os.path.join(single, "model.keras"))
    for ours, theirs in zip(chief.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)
    # The same loss curve: each global batch is split across the workers, not duplicated.
    for ours, theirs in zip(metrics(workdir), metrics(single), strict=True):
        assert ours["step"] == theirs["step"]
        assert ours["loss"] == pytest.approx(theirs["loss"], abs=1e-5)
        assert ours["val_loss"] == pytest.approx(theirs["val_loss"], abs=1e-5)
    # Only the chief wrote the work directory; the worker's temporary one is gone.
    assert not [name for name in os.listdir(workdir) if name.startswith("tfllm-worker-")]


MIRRORED_ON_TWO_CPUS = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from tfllm.cli import main
sys.exit(main.main(["tfllm"] + sys.argv[1:]))
"""


@pytest.mark.slow
def test_mirrored_replicas_with_gradient_accumulation_match_a_single_process(tmp_path):
    data = write_csv(tmp_path / "train.csv", toy_topics(40))
    workdir = str(tmp_path / "mirrored")
    mirrored_run = start(sys.executable, "-c", MIRRORED_ON_TWO_CPUS, "train",
                         "--config=configs/bert_classifier.py:smoke",
                         f"--config.data.train={data}", "--config.model.backbone.dropout=0",
                         "--config.model.head_dropout=0", "--config.train.grad_accum_steps=2",
                         "--config.runtime.distribution=mirrored", f"--workdir={workdir}")
    single = str(tmp_path / "single")  # trained here while the mirrored run starts up
    config = no_dropout(smoke_config(train=data))
    config.train.grad_accum_steps = 2
    tfllm.train(config, single)
    assert "final weights" in finish(mirrored_run)
    mirrored = keras.saving.load_model(os.path.join(workdir, "model.keras"))
    reference = keras.saving.load_model(os.path.join(single, "model.keras"))
    for ours, theirs in zip(mirrored.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)


def test_a_failing_worker_stops_the_launch_with_its_exit_code(tmp_path, monkeypatch):
    script = tmp_path / "worker.py"
    script.write_text(
        "import json, os, sys, time\n"
        "index = json.loads(os.environ['TF_CONFIG'])['task']['index']\n"
        "print('started', index, flush=True)\n"
        "if index == 1:\n"
        "    sys.exit(3)\n"
        "time.sleep(600)\n", encoding="utf-8")
    monkeypatch.setattr(launch.sys, "executable", sys.executable)
    lines = []

    class Out:
        def write(self, text):
            lines.append(text)

        def flush(self):
            pass

    command = launch.worker_command
    monkeypatch.setattr(launch, "worker_command", lambda args: [sys.executable, str(script)])
    assert launch.launch([], 2, out=Out()) == 3  # worker 0 (sleeping) was stopped, not awaited
    assert "[worker 1] started 1\n" in lines and "[worker 0] started 0\n" in lines
    assert command(["--x=1"])[-2:] == ["--x=1", "--config.runtime.distribution=multi_worker"]


def test_num_workers_is_stripped_from_the_worker_flags():
    args = ["--a=1", "--num_workers=2", "--b"]
    assert launch.without_flag(args, "num_workers") == ["--a=1", "--b"]
    assert launch.without_flag(["--num_workers", "2", "--b"], "num_workers") == ["--b"]


@pytest.mark.parametrize("tf_config,distribution,chief", [
    ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}},
     "multi_worker", True),
    ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}},
     "multi_worker", False),
    ({"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "worker", "index": 0}},
     "multi_worker", False),
    ({"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "chief", "index": 0}},
     "multi_worker", True),
    # A TF_CONFIG left in the environment does not make a single-process run a worker.
    ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}},
     "none", True),
])
def test_only_the_chief_writes_the_work_directory(tf_config, distribution, chief, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
    assert tfllm_distribution.is_chief(distribution) is chief


def test_multi_worker_without_tf_config_says_how_to_start_workers(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    config = smoke_config()
    config.runtime.distribution = "multi_worker"
    with pytest.raises(ConfigError, match="TF_CONFIG .* tfllm train --num_workers=N"):
        tfllm_distribution.strategy_for(config.runtime)
