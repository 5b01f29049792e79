"""Callbacks a run needs beyond Keras's own: metrics log, atomic checkpoints that survive a
resume, early stopping that does too, a NaN stop.

A model with LoRA (`tfllm.models.lora`) checkpoints its adapters alone, in adapter files
beside where its weights would go (`ckpt-0003.adapters.npz` for `ckpt-0003.weights.h5`):
Keras' `save_weights` would store each kernel merged with its adapter, and loading that file
back would put the merged kernel under the adapter and zero the adapter, so the base weights
would drift and the adapters saved at the end would be empty.
"""

import glob
import io
import json
import math
import os
import resource
import sys
import time

import keras
import tensorflow as tf
from keras.src.saving import saving_lib

from tfllm import atomic
from tfllm.errors import TfllmError
from tfllm.models import lora
from tfllm.models import lora_files
from tfllm.training import backup as backup_lib
from tfllm.training import distribution


class NonFiniteLoss(TfllmError):
    """The training loss became NaN or infinite; the message names the step."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops training with NonFiniteLoss at the first step whose loss is NaN or infinite.

    Keras's TerminateOnNaN ends `fit` as if training had finished: the
    backup is deleted and a model of NaNs is saved. Raising instead leaves
    the last epoch's backup in place, so the run can resume once the cause
    (usually the learning rate) is fixed.

    Args:
        backup_dir: where the last good backup is, for the message.
    """

    def __init__(self, backup_dir):
        super().__init__()
        self.backup_dir = backup_dir
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NonFiniteLoss(
                f"the training loss became {float(loss)} at epoch {self._epoch + 1}, step "
                f"{batch + 1} of the epoch; nothing was saved after it. The last good backup "
                f"({self.backup_dir}) is kept: lower --config.train.learning_rate (or set "
                "--config.train.clipnorm) and run the same command to resume from it")


def resident_megabytes():
    """The process's resident set size now (Linux), else its peak so far, in MiB."""
    if os.path.exists("/proc/self/statm"):
        with open("/proc/self/statm", encoding="utf-8") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes there, else KiB


class MetricsLog(keras.callbacks.Callback):
    """Appends one JSON object per epoch to `metrics.jsonl`.

    Each line has epoch, step, learning_rate, every logged metric (loss,
    accuracy, val_...), and throughput of the training part of the epoch
    (validation excluded): examples_per_sec and tokens_per_sec, and the
    process's resident memory at the epoch's end (rss_mb), so growth across
    epochs shows.

    Args:
        path: the metrics.jsonl file; lines are appended, so a resumed run
            continues the same log.
        batch_size: examples per training step (training batches are full).
        tokens_per_example: mean non-padding tokens per training example.
    """

    def __init__(self, path, batch_size, tokens_per_example):
        super().__init__()
        self.path = path
        self.batch_size = batch_size
        self.tokens_per_example = tokens_per_example

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._train_seconds = None
        self._steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1

    def on_test_begin(self, logs=None):
        if self._train_seconds is None:
            self._train_seconds = time.perf_counter() - self._start

    def on_epoch_end(self, epoch, logs=None):
        seconds = self._train_seconds or (time.perf_counter() - self._start)
        examples_per_sec = self._steps * self.batch_size / seconds
        record = {
            "epoch": epoch + 1,
            "step": int(self.model.optimizer.iterations.numpy()),
            "learning_rate": float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)),
            **{key: float(value) for key, value in (logs or {}).items()
               if key != "learning_rate"},
            "examples_per_sec": round(examples_per_sec, 2),
            "tokens_per_sec": round(examples_per_sec * self.tokens_per_example, 1),
            "rss_mb": round(resident_megabytes(), 1),
        }
        lines = []
        if os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as f:
                lines = f.readlines()
        # Replaced whole, not appended to: a full disk never leaves half a line for the
        # resume to read.
        atomic.replace(self.path, lambda temporary: _write_lines(
            temporary, lines + [json.dumps(record) + "\n"]))


class TensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard callback, except that a summary it cannot write (a full disk)
    stops the run with `atomic.WriteFailed` naming the log directory, not with a
    TensorFlow traceback."""

    def _writing(self, method, *args):
        try:
            return method(*args)
        except tf.errors.OpError as error:
            raise atomic.WriteFailed(atomic.failed_message(
                self.log_dir, atomic.reason(error), "TensorBoard log",
                kept="the run's backups are unchanged")) from None

    def on_train_begin(self, logs=None):
        self._writing(super().on_train_begin, logs)

    def on_test_end(self, logs=None):
        self._writing(super().on_test_end, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._writing(super().on_epoch_end, epoch, logs)

    def on_train_end(self, logs=None):
        self._writing(super().on_train_end, logs)


def keep_epochs(path, epochs):
    """Drops metrics.jsonl lines past `epochs`: a resumed run logs those epochs again."""
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as f:
        lines = [line for line in f if json.loads(line)["epoch"] <= epochs]
    atomic.replace(path, lambda temporary: _write_lines(temporary, lines))


def _write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(lines)


WEIGHTS_SUFFIX = ".weights.h5"
ADAPTERS_SUFFIX = ".adapters.npz"


def adapters_path(weights_path):
    """Where a LoRA model keeps what `weights_path` holds for other models:
    X.weights.h5 -> X.adapters.npz."""
    return weights_path.removesuffix(WEIGHTS_SUFFIX) + ADAPTERS_SUFFIX


def save_weights(model, path):
    """`model.save_weights(path)`, with the HDF5 file built in memory and written by Python.

    h5py 3.14 (HDF5 1.14) crashes the process with SIGSEGV in `File.close` when the disk
    fills up under a file it writes; Python's write raises OSError (ENOSPC) instead. These
    are the steps of Keras 3.15's `saving_lib.save_weights_only`, given a BytesIO.
    """
    buffer = io.BytesIO()
    store = saving_lib.H5IOStore(buffer, mode="w")
    try:
        saving_lib._save_state(  # pylint: disable=protected-access
            model, weights_store=store, assets_store=None, inner_path="",
            visited_saveables=set())
    finally:
        store.close()
    with open(path, "wb") as f:
        f.write(buffer.getbuffer())


def save_checkpoint(model, weights_path):
    """Writes `model`'s weights to `weights_path` atomically; a LoRA model's adapters (and
    train_also weights) to `adapters_path(weights_path)` instead. Returns the path written.
    A failed write (a full disk) raises `atomic.WriteFailed`, the previous file kept."""
    if lora.lora_summary(model) is not None:
        lora_files.save_adapters(model, adapters_path(weights_path))
        return adapters_path(weights_path)
    atomic.replace(weights_path, lambda temporary: save_weights(model, temporary))
    return weights_path


def load_checkpoint(model, weights_path):
    """Loads what `save_checkpoint(model, weights_path)` wrote back onto `model`."""
    if lora.lora_summary(model) is not None:
        lora_files.load_adapters(model, adapters_path(weights_path))
    else:
        model.load_weights(weights_path)


class PeriodicCheckpoint(keras.callbacks.Callback):
    """Saves weights every `every_epochs` epochs as ckpt-EPOCH.weights.h5 (a LoRA model: its
    adapters, as ckpt-EPOCH.adapters.npz), keeping the last `keep`.

    Keras's ModelCheckpoint keeps every file it writes; a 30-epoch run of a
    small BERT would leave gigabytes behind.
    """

    def __init__(self, directory, every_epochs=1, keep=3):
        super().__init__()
        self.directory = directory
        self.every_epochs = every_epochs
        self.keep = keep

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_epochs:
            return
        os.makedirs(self.directory, exist_ok=True)
        written = save_checkpoint(
            self.model, os.path.join(self.directory, f"ckpt-{epoch + 1:04d}{WEIGHTS_SUFFIX}"))
        suffix = ADAPTERS_SUFFIX if written.endswith(ADAPTERS_SUFFIX) else WEIGHTS_SUFFIX
        kept = sorted(glob.glob(os.path.join(self.directory, "ckpt-*" + suffix)))
        for old in kept[:-self.keep]:
            os.remove(old)


def _improves(value, best, mode):
    return best is None or (value > best if mode == "max" else value < best)


class BestCheckpoint(keras.callbacks.Callback):
    """Keeps the weights of the best epoch by `monitor` in `path`, replaced atomically (a LoRA
    model: its adapters, in `adapters_path(path)`).

    Keras' ModelCheckpoint writes in place (a kill mid-write leaves a broken
    file) and forgets the best value when a run resumes.
    """

    def __init__(self, path, monitor, mode):
        super().__init__()
        self.path = path
        self.monitor = monitor
        self.mode = mode
        self.best = None

    def on_epoch_end(self, epoch, logs=None):
        value = float(logs[self.monitor])
        if _improves(value, self.best, self.mode):
            save_checkpoint(self.model, self.path)
            self.best = value

    def backup_state(self):
        return {"best": self.best}

    def restore_state(self, state):
        self.best = state["best"]


class EarlyStopping(keras.callbacks.Callback):
    """Stops after `patience` epochs without improvement of `monitor`; the run ends with the
    best epoch's weights, whether it stopped early or ran all `epochs`.

    The best weights are the `BestCheckpoint` file (same monitor, written
    first). Keras' EarlyStopping keeps them in memory, restarts its count in
    every `fit` call and loses both when the process dies.
    """

    def __init__(self, best_path, monitor, mode, patience, epochs):
        super().__init__()
        self.best_path = best_path
        self.monitor = monitor
        self.mode = mode
        self.patience = patience
        self.epochs = epochs
        self.best = None
        self.wait = 0

    def on_epoch_end(self, epoch, logs=None):
        value = float(logs[self.monitor])
        if _improves(value, self.best, self.mode):
            self.best, self.wait = value, 0
        else:
            self.wait += 1
        if self.wait >= self.patience:
            print(f"Epoch {epoch + 1}: no {self.monitor} improvement in {self.patience} epochs; "
                  "stopping with the best epoch's weights", flush=True)
            self.model.stop_training = True
        if self.wait and (self.model.stop_training or epoch + 1 == self.epochs):
            load_checkpoint(self.model, self.best_path)

    def backup_state(self):
        return {"best": self.best, "wait": self.wait}

    def restore_state(self, state):
        self.best, self.wait = state["best"], state["wait"]


def standard_callbacks(config, paths, datasets, resume=None, monitor=("val_accuracy", "max")):
    """Returns the callbacks every training run uses, in the order they must run.

    Args:
        config: the resolved run config (its train section, batch size and distribution).
        paths: a `tfllm.workdir.Paths`.
        datasets: the run's `tfllm.tasks.base.Datasets` (steps per epoch, mean
            non-padding tokens per training example).
        resume: the `backup.Resume` to continue from, or None.
        monitor: (validation metric, "max" or "min"): the metric that picks the best
            checkpoint and drives early stopping, and whether higher is better.

    On the other workers of a distributed run (not the chief) the callbacks compute what
    the chief does, keep their files in a temporary `paths`, and leave backups to the
    chief.
    """
    train_config = config.train
    monitor, mode = monitor
    chief = distribution.is_chief(config.runtime.distribution)
    distributed = config.runtime.distribution != "none"
    stateful = [BestCheckpoint(paths.best, monitor, mode)]
    if train_config.early_stopping_patience:
        stateful.append(EarlyStopping(paths.best, monitor, mode,
                                      train_config.early_stopping_patience, train_config.epochs))
    callbacks = [
        StopOnNonFiniteLoss(paths.backup),
        MetricsLog(paths.metrics, config.data.batch_size, datasets.tokens_per_example),
        TensorBoard(paths.logs, update_freq="epoch"),
    ]
    if train_config.checkpoint_every_epochs:
        callbacks.append(
            PeriodicCheckpoint(paths.checkpoints, train_config.checkpoint_every_epochs))
    return callbacks + stateful + [backup_lib.Backup(
        paths.backup, datasets.steps_per_epoch, train_config.backup_every_steps, stateful, resume,
        write=chief, metrics=not distributed)]
