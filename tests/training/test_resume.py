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


def test_crashed_run_resumes_from_its_backup(tmp_path, monkeypatch):
    config = smoke_config(train=write_csv(tmp_path / "train.csv", toy_topics(40)),
                          batch_size=8)
    config.train.epochs = 4
    workdir = str(tmp_path / "run")
    standard = callbacks_lib.standard_callbacks
    monkeypatch.setattr(callbacks_lib, "standard_callbacks",
                        lambda *args: standard(*args) + [Crash(epoch=2)])
    with pytest.raises(RuntimeError, match="simulated crash"):
        tfllm.train(config, workdir)
    monkeypatch.setattr(callbacks_lib, "standard_callbacks", standard)

    report = tfllm.train(config, workdir)  # the same call again

    with open(f"{workdir}/metrics.jsonl", encoding="utf-8") as f:
        lines = [json.loads(line) for line in f]
    assert [line["epoch"] for line in lines] == [1, 2, 3, 4]
    assert [line["step"] for line in lines] == [3, 6, 9, 12]  # no step trained twice
    assert report["examples"] > 0


def test_crashed_language_model_run_resumes_from_its_backup(tmp_path, monkeypatch):
    config = gpt_lm.get_config("smoke")
    config.train.epochs = 4
    workdir = str(tmp_path / "gpt")
    standard = callbacks_lib.standard_callbacks
    monkeypatch.setattr(callbacks_lib, "standard_callbacks",
                        lambda *args, **kwargs: standard(*args, **kwargs) + [Crash(epoch=2)])
    with pytest.raises(RuntimeError, match="simulated crash"):
        tfllm.train(config, workdir)
    with open(f"{workdir}/tokenizer/merges.txt", encoding="utf-8") as f:
        merges = f.read()
    monkeypatch.setattr(callbacks_lib, "standard_callbacks", standard)

    report = tfllm.train(config, workdir)  # the same call again

    with open(f"{workdir}/metrics.jsonl", encoding="utf-8") as f:
        lines = [json.loads(line) for line in f]
    assert [line["epoch"] for line in lines] == [1, 2, 3, 4]
    assert [line["step"] for line in lines] == [3, 6, 9, 12]  # no step trained twice
    with open(f"{workdir}/tokenizer/merges.txt", encoding="utf-8") as f:
        assert f.read() == merges  # the resumed run kept its tokenizer
    assert report["perplexity"] > 1
