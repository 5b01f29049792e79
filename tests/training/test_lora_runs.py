"""LoRA runs (`train.lora`): only adapters and the new head train, checkpoints hold the
adapters alone, model.keras and exports are merged, best-epoch restore and resume are exact."""

import contextlib
import io
import json
import os
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfllm
from tests.helpers import smoke_config, toy_topics, write_csv
from tests.tasks.classification.test_export import serve_in_fresh_process
from tfllm import config as config_lib
from tfllm.configs import gpt_lm
from tfllm.errors import ConfigError
from tfllm.serving import writer
from tfllm.training import callbacks as callbacks_lib
from tfllm.tasks.classification import task as classification
from tfllm.tasks.language_model import task as lm_loop
from tfllm.models import lora
from tfllm.models import lora_files
from tfllm.workdir import Paths

TEXTS = ["the coach and the team", "soup with bread", "", "What is AI?"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_csv(tmp_path_factory.mktemp("lora_data") / "train.csv", toy_topics(40))


@pytest.fixture(scope="module")
def base(tmp_path_factory, data):
    """A finished smoke classifier: the pretrained model the LoRA runs start from."""
    workdir = str(tmp_path_factory.mktemp("lora_base") / "base")
    tfllm.train(smoke_config(train=data, batch_size=8), workdir)
    return workdir


def lora_config(data, base, rank=2, **lora_fields):
    config = smoke_config(train=data, batch_size=8)
    config.model.init_from = base
    config.train.lora.rank = rank
    for key, value in lora_fields.items():
        config.train.lora[key] = value
    return config


def train(config, workdir):
    """Runs tfllm.train; returns what it printed."""
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        tfllm.train(config, workdir)
    return printed.getvalue()


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory, data, base):
    """A rank-2 LoRA run on the base run (default targets: query and value); (workdir, stdout)."""
    workdir = str(tmp_path_factory.mktemp("lora") / "run")
    return workdir, train(lora_config(data, base), workdir)


def weights(workdir):
    with warnings.catch_warnings():  # keras-hub compiles the tasks it builds
        warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
        model = keras.saving.load_model(Paths(workdir).model, compile=False)
    return {v.path: v.numpy() for v in model.weights}


def read_adapters(path):
    """(arrays by name, the settings and counts) of an adapter file."""
    with np.load(path) as npz:
        return ({key: npz[key] for key in npz.files if key != "meta"},
                json.loads(str(npz["meta"])))


def with_adapters(workdir, path):
    """The run's base model with the adapter file at `path` on it (not merged)."""
    model = classification.TASK.base_model(workdir)
    lora_files.load_adapters(model, path)
    return model


def probabilities(workdir, model, texts=TEXTS):
    classifier = tfllm.load(workdir)
    if model is not None:
        classifier.model = model
    return classifier.probabilities(texts)


@pytest.mark.slow
def test_only_adapters_and_head_train_and_the_export_equals_base_plus_adapters(
        lora_run, base, tmp_path):
    workdir, printed = lora_run
    before, after = weights(base), weights(workdir)
    targeted = [p for p in before if p.endswith(("/query/kernel", "/value/kernel"))]
    assert len(targeted) == 2  # the smoke encoder has one layer
    # A rank-r adapter on a kernel (inputs..., outputs) has r * (inputs + outputs)
    # parameters (A: inputs x r, B: r x outputs); the new head trains in full.
    rank = 2
    expected = sum(rank * (int(np.prod(before[p].shape[:-1])) + before[p].shape[-1])
                   for p in targeted)
    expected += after["logits/kernel"].size + after["logits/bias"].size
    assert f"training {expected:,} of" in printed
    _, meta = read_adapters(Paths(workdir).adapters)
    assert meta["trainable_params"] == expected
    # model.keras is the merged, plain model: W + A B in the targeted kernels, the new
    # head, and every other weight exactly the base's (no weight decay on frozen weights).
    assert not [p for p in after if "lora" in p] and sorted(after) == sorted(before)
    for path, value in before.items():
        if path in targeted:
            assert np.abs(after[path] - value).max() > 1e-5, path
        elif not path.startswith("logits/"):
            np.testing.assert_array_equal(after[path], value, err_msg=path)
    assert os.path.getsize(Paths(workdir).adapters) < os.path.getsize(Paths(workdir).model) / 5

    reference = with_adapters(workdir, Paths(workdir).adapters)
    assert lora.lora_summary(reference).trainable_params == expected
    expected_probabilities = probabilities(workdir, reference)
    np.testing.assert_allclose(probabilities(workdir, None), expected_probabilities, atol=1e-5)
    served = serve_in_fresh_process(writer.export(workdir, str(tmp_path / "export")), TEXTS)
    np.testing.assert_allclose(served["probabilities"], expected_probabilities, atol=1e-5)


def test_checkpoints_are_adapter_files_that_load_onto_the_base(lora_run):
    workdir, _ = lora_run
    checkpoints = sorted(os.listdir(Paths(workdir).checkpoints))
    assert checkpoints == ["best.adapters.npz", "ckpt-0001.adapters.npz",
                           "ckpt-0002.adapters.npz"]
    first = os.path.join(Paths(workdir).checkpoints, "ckpt-0001.adapters.npz")
    # export --adapters: the base rebuilt from init_from, this epoch's adapters merged in.
    merged = writer.with_adapters(workdir, first)
    assert lora.lora_summary(merged) is None
    np.testing.assert_allclose(probabilities(workdir, merged),
                               probabilities(workdir, with_adapters(workdir, first)), atol=1e-5)
    assert np.abs(probabilities(workdir, merged) - probabilities(workdir, None)).max() > 1e-6


class FakeValidation(keras.callbacks.Callback):
    """Makes epoch 1 the best by val_accuracy, whatever the model learned (runs first)."""

    def on_epoch_end(self, epoch, logs=None):
        logs["val_accuracy"] = [0.9, 0.5, 0.4][epoch]


def test_early_stopping_restores_the_best_epochs_adapters_onto_the_intact_base(
        data, base, tmp_path, monkeypatch):
    config = lora_config(data, base)
    config.train.epochs = 3
    config.train.early_stopping_patience = 1
    standard = callbacks_lib.standard_callbacks
    monkeypatch.setattr(callbacks_lib, "standard_callbacks",
                        lambda *args, **kwargs: [FakeValidation()] + standard(*args, **kwargs))
    workdir = str(tmp_path / "run")
    assert "stopping with the best epoch's weights" in train(config, workdir)
    paths = Paths(workdir)
    final, _ = read_adapters(paths.adapters)
    best, _ = read_adapters(paths.best_adapters)
    second, _ = read_adapters(os.path.join(paths.checkpoints, "ckpt-0002.adapters.npz"))
    for name, value in read_adapters(os.path.join(paths.checkpoints,
                                                  "ckpt-0001.adapters.npz"))[0].items():
        np.testing.assert_array_equal(final[name], value, err_msg=name)
        np.testing.assert_array_equal(best[name], value, err_msg=name)
    assert any(np.any(second[name] != final[name]) for name in final)
    # Loading checks the frozen weights' hash: the restore left the base untouched
    # (Keras' load_weights would have merged the best adapters into it and zeroed them).
    expected = probabilities(workdir, with_adapters(workdir, paths.adapters))
    np.testing.assert_allclose(probabilities(workdir, None), expected, atol=1e-5)


class CrashAfterStep(keras.callbacks.Callback):
    def __init__(self, step):
        super().__init__()
        self.step, self.done = step, 0

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        if self.done == self.step:
            raise RuntimeError("simulated crash")


def test_a_lora_run_crashed_mid_epoch_resumes_to_the_same_adapters(
        data, base, tmp_path, monkeypatch):
    config = lora_config(data, base, dropout=0.2)  # dropout seeds are restored too
    config.train.backup_every_steps = 2  # backups at steps 2, 3 (epoch end), 4, 6
    reference, resumed = str(tmp_path / "reference"), str(tmp_path / "resumed")
    train(config, reference)
    standard = callbacks_lib.standard_callbacks
    monkeypatch.setattr(callbacks_lib, "standard_callbacks",
                        lambda *args, **kwargs: standard(*args, **kwargs) + [CrashAfterStep(5)])
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config, resumed)
    monkeypatch.setattr(callbacks_lib, "standard_callbacks", standard)
    assert "resumed from step 4 (in epoch 2 after batch 1)" in train(config, resumed)
    ours, _ = read_adapters(Paths(resumed).adapters)
    theirs, _ = read_adapters(Paths(reference).adapters)
    for name, value in theirs.items():
        np.testing.assert_allclose(ours[name], value, rtol=0, atol=1e-6, err_msg=name)


def gpt_smoke_config(tmp_path):
    """configs/gpt_lm.py:smoke on a small file of documents (faster than the default corpus)."""
    documents = tmp_path / "documents.txt"
    documents.write_text("\n\n".join(text for text, _ in toy_topics(40)), encoding="utf-8")
    config = gpt_lm.get_config("smoke")
    config.data.train = str(documents)
    config.generation.jit_compile = False  # one short generation: not worth compiling
    return config


def test_gpt_lora_smoke_run_writes_adapters_and_still_generates(tmp_path):
    base = str(tmp_path / "gpt")
    tfllm.train(gpt_smoke_config(tmp_path), base)
    config = gpt_smoke_config(tmp_path)
    config.model.init_from = base
    config.train.lora.rank = 2
    workdir = str(tmp_path / "gpt_lora")
    printed = train(config, workdir)
    # One layer, hidden 16, 2 heads of 8: query and value adapters, 2 * (16 * 2 + 8) each.
    assert "on 2 layers, 0 weights trained in full: training 160 of" in printed
    before, after = weights(base), weights(workdir)
    for path, value in before.items():  # the tied token embeddings (the output layer) too
        if not path.endswith(("/query/kernel", "/value/kernel")):
            np.testing.assert_array_equal(after[path], value, err_msg=path)

    lm = tfllm.load(workdir)
    (completion,) = lm.generate(["What is AI?"], max_new_tokens=4)
    assert isinstance(completion, str)
    token_ids = np.array([[lm.end_id, 5, 9, 11, 7]], np.int32)
    inputs = {"token_ids": token_ids, "padding_mask": np.ones_like(token_ids, bool)}
    reference = lm_loop.TASK.base_model(workdir)
    lora_files.load_adapters(reference, Paths(workdir).adapters)
    np.testing.assert_allclose(lm.model(inputs), reference(inputs), atol=1e-5)


def test_lora_on_random_weights_warns_and_still_finishes(data, tmp_path):
    config = smoke_config(train=data, batch_size=8)
    config.train.lora.rank = 2
    config.train.epochs = 1
    workdir = str(tmp_path / "run")
    assert "warning: LoRA on random weights" in train(config, workdir)
    # The run's seed rebuilds the same random base (the adapter file checks its hash).
    lora_files.load_adapters(classification.TASK.base_model(workdir), Paths(workdir).adapters)
    assert tfllm.load(workdir).predict(["soup"])[0]["label"] in ("food", "sport")


@pytest.mark.parametrize("field, value", [
    ("rank", -1), ("alpha", -2.0), ("dropout", 1.0), ("targets", ""), ("targets", "query,,value"),
    ("train_also", " ,logits")])
def test_bad_lora_settings_are_config_errors_naming_the_flag(field, value):
    config = smoke_config()
    config.train.lora[field] = value
    with pytest.raises(ConfigError, match=rf"^--config\.train\.lora\.{field}: got"):
        config_lib.validate(config)


def test_a_target_that_matches_nothing_stops_the_run_naming_it(data, base, tmp_path):
    with pytest.raises(lora.LoraError, match="'no_such_layer' matches nothing.*query"):
        train(lora_config(data, base, targets="query,no_such_layer"), str(tmp_path / "r"))


@pytest.mark.slow
def test_cli_exports_a_checkpoints_adapters(lora_run, tmp_path):
    workdir, _ = lora_run
    first = os.path.join(Paths(workdir).checkpoints, "ckpt-0001.adapters.npz")
    tfllm_bin = os.path.join(os.path.dirname(sys.executable), "tfllm")
    result = subprocess.run([tfllm_bin, "export", f"--workdir={workdir}",
                             f"--export_dir={tmp_path / 'export'}", f"--adapters={first}"],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    serve = tf.saved_model.load(str(tmp_path / "export" / "1")).signatures["serving_default"]
    np.testing.assert_allclose(serve(text=tf.constant(TEXTS))["probabilities"],
                               probabilities(workdir, with_adapters(workdir, first)), atol=1e-5)
