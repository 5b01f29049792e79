"""A run that crashes mid-training continues from its last epoch when started again."""

import json

import keras
import pytest

import tfllm
from tests.helpers import smoke_config, toy_topics, write_csv
from tfllm.configs import gpt_lm
from tfllm.training import callbacks as callbacks_lib


class Crash(keras.callbacks.Callback):
    """Raises at the end of one epoch, after the backup of that epoch is written."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise RuntimeError("simulated crash")


def crash_at_epoch_2_then_resume(config, workdir, monkeypatch, after_crash=lambda: None):
    """Trains until a crash after epoch 2, calls `after_crash`, then runs the same call again.

    Returns:
        (the resumed run's report, the epochs and steps logged in metrics.jsonl).
    """
    standard = callbacks_lib.standard_callbacks
    monkeypatch.setattr(callbacks_lib, "standard_callbacks",
                        lambda *args, **kwargs: standard(*args, **kwargs) + [Crash(epoch=2)])
    with pytest.raises(RuntimeError, match="simulated crash"):
        tfllm.train(config, workdir)
    after_crash()
    monkeypatch.setattr(callbacks_lib, "standard_callbacks", standard)
    report = tfllm.train(config, workdir)  # the same call again
    with open(f"{workdir}/metrics.jsonl", encoding="utf-8") as f:
        lines = [json.loads(line) for line in f]
    return report, [line["epoch"] for line in lines], [line["step"] for line in lines]


def test_crashed_run_resumes_from_its_backup(tmp_path, monkeypatch):
    config = smoke_config(train=write_csv(tmp_path / "train.csv", toy_topics(40)),
                          batch_size=8)
    config.train.epochs = 4
    report, epochs, steps = crash_at_epoch_2_then_resume(config, str(tmp_path / "run"),
                                                         monkeypatch)
    assert epochs == [1, 2, 3, 4]
    assert steps == [3, 6, 9, 12]  # no step trained twice
    assert report["examples"] > 0


def test_crashed_language_model_run_resumes_from_its_backup(tmp_path, monkeypatch):
    config = gpt_lm.get_config("smoke")
    config.train.epochs = 4
    merges_file = tmp_path / "gpt" / "tokenizer" / "merges.txt"
    merges = []
    report, epochs, steps = crash_at_epoch_2_then_resume(
        config, str(tmp_path / "gpt"), monkeypatch,
        after_crash=lambda: merges.append(merges_file.read_text(encoding="utf-8")))
    assert epochs == [1, 2, 3, 4]
    assert steps == [3, 6, 9, 12]  # no step trained twice
    assert merges_file.read_text(encoding="utf-8") == merges[0]  # the tokenizer was kept
    assert report["perplexity"] > 1
