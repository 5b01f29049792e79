"""Callbacks a run needs beyond Keras's own: a metrics log, checkpoint rotation, a NaN stop."""

import glob
import json
import math
import os
import time

import keras

from tfllm.errors import TfllmError


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


class MetricsLog(keras.callbacks.Callback):
    """Appends one JSON object per epoch to `metrics.jsonl`.

    Each line has epoch, step, learning_rate, every logged metric (loss,
    accuracy, val_...), and throughput of the training part of the epoch
    (validation excluded): examples_per_sec and tokens_per_sec.

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
        }
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


class PeriodicCheckpoint(keras.callbacks.Callback):
    """Saves weights every `every_epochs` epochs as ckpt-EPOCH.weights.h5, keeping the last `keep`.

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
        self.model.save_weights(os.path.join(self.directory, f"ckpt-{epoch + 1:04d}.weights.h5"))
        for old in sorted(glob.glob(os.path.join(self.directory, "ckpt-*.weights.h5")))[:-self.keep]:
            os.remove(old)


def standard_callbacks(train_config, paths, batch_size, tokens_per_example,
                       monitor="val_accuracy", mode="max"):
    """Returns the callbacks every training run uses, in the order they must run.

    Args:
        train_config: the config's `train` section.
        paths: a `tfllm.workdir.Paths`.
        batch_size: examples per training step.
        tokens_per_example: mean non-padding tokens per training example.
        monitor, mode: the validation metric that picks the best checkpoint
            and drives early stopping, and whether higher ("max") is better.
    """
    callbacks = [
        keras.callbacks.BackupAndRestore(paths.backup, double_checkpoint=True),
        StopOnNonFiniteLoss(paths.backup),
        MetricsLog(paths.metrics, batch_size, tokens_per_example),
        keras.callbacks.TensorBoard(paths.logs, update_freq="epoch"),
        keras.callbacks.ModelCheckpoint(
            os.path.join(paths.checkpoints, "best.weights.h5"),
            monitor=monitor, mode=mode, save_best_only=True, save_weights_only=True),
    ]
    if train_config.checkpoint_every_epochs:
        callbacks.append(PeriodicCheckpoint(paths.checkpoints, train_config.checkpoint_every_epochs))
    if train_config.early_stopping_patience:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=monitor, mode=mode, patience=train_config.early_stopping_patience,
            restore_best_weights=True))
    return callbacks
