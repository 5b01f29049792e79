"""Step-level backups that a killed run resumes from as if it had never stopped.

A backup is a directory `backup/step-NNNNNNNNN` holding, in variables.npz,
every variable of the model (weights and the dropout layers' seed states),
of the optimizer (step count, moments, loss scale, gradient accumulators,
moving averages) and of the compiled metrics, and in state.json the step
and epoch counters and the state of callbacks that keep some (best
checkpoint, early stopping). The learning-rate schedule is a function of
the optimizer's step count; the data order is a function of the seed and
the step (see `tfllm.data.stream`). Restored, the run continues with the
same weights, the same next batch and the same dropout masks.

Keras' BackupAndRestore does not do this: restoring a mid-epoch backup
restarts the epoch from its first batch, and its weights and counters are
two files written one after the other, so a kill between them trains an
epoch twice. Here a backup is written under a `.tmp` name and renamed when
complete; a kill mid-write leaves the previous backup as the latest.

Two complete backups are kept, the newest and the one before it (while a third is written,
three are on disk; the oldest goes once the new one is complete). state.json records the
SHA-256 of variables.npz and of its own contents, so a file truncated, emptied or changed
after it was written is found before the run resumes: the run then resumes from the one
before it, with a warning naming both. A disk that fills up mid-backup stops the run with
an `atomic.WriteFailed` naming the backup; its half-written directory is removed.
"""

import dataclasses
import glob
import hashlib
import itertools
import json
import os
import re
import shutil

import keras
import numpy as np

from tfllm import atomic
from tfllm.errors import DataError

STATE = "state.json"
VARIABLES = "variables.npz"
PREFIX = "step-"


@dataclasses.dataclass(frozen=True)
class Resume:
    """The latest complete backup of a run: where it is and how far the run had got.

    Attributes:
        directory: the backup's directory.
        step: training batches done.
        epochs_done: epochs completed, validation included.
        stop_training: early stopping had ended the run.
        state: the whole state.json.
    """

    directory: str
    step: int
    epochs_done: int
    stop_training: bool
    state: dict


def _step(directory):
    return int(os.path.basename(directory)[len(PREFIX):])


def _complete(backup_dir):
    """The complete backups in `backup_dir` (half-written `.tmp` ones aside), newest first."""
    return sorted((d for d in glob.glob(os.path.join(backup_dir, PREFIX + "*"))
                   if not d.endswith(".tmp") and os.path.isfile(os.path.join(d, STATE))),
                  key=_step, reverse=True)


def _digest(data):
    return hashlib.sha256(data).hexdigest()


def _file_digest(path):
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _state_digest(state):
    return _digest(json.dumps(state, sort_keys=True).encode("utf-8"))


def read_state(directory):
    """The state.json of the backup in `directory`, checked against the digests it records
    (backups of earlier versions record none); DataError naming the file and what is wrong."""
    path, variables = os.path.join(directory, STATE), os.path.join(directory, VARIABLES)
    try:
        with open(path, "rb") as f:
            state = json.loads(f.read())
        recorded = state.pop("sha256", None)
    except (OSError, ValueError, AttributeError) as error:  # AttributeError: not an object
        raise DataError(f"{path}: damaged (not the JSON object a backup writes: {error})"
                        ) from None
    if recorded is not None and recorded != _state_digest(state):
        raise DataError(f"{path}: damaged (its contents changed after it was written: "
                        "they do not match the SHA-256 written with them)")
    if not os.path.isfile(variables):
        raise DataError(f"{variables}: missing")
    size, expected = os.path.getsize(variables), state.get("variables_bytes")
    if expected is not None and size != expected:
        what = "empty" if not size else "truncated" if size < expected else "grown"
        raise DataError(f"{variables}: damaged ({what}: {size} bytes, {expected} written)")
    if state.get("variables_sha256") not in (None, _file_digest(variables)):
        raise DataError(f"{variables}: damaged (its SHA-256 is not the one recorded in "
                        f"{STATE}: the file changed after it was written)")
    return state


def latest(backup_dir):
    """The newest usable backup in `backup_dir`, or None if there is none.

    Half-written backups are ignored. A damaged one (`read_state`) is passed over for the
    one before it, with a warning naming both; DataError, naming the damaged files, if
    every backup is damaged.
    """
    damaged = []
    for directory in _complete(backup_dir):
        try:
            state = read_state(directory)
        except DataError as error:
            damaged.append(str(error))
            continue
        if damaged:
            print(f"warning: {'; '.join(damaged)}; resuming from the previous backup "
                  f"{directory}", flush=True)
        return Resume(directory, state["step"], state["epochs_done"], state["stop_training"],
                      state)
    if not damaged:
        return None
    older = (f"so is every older backup ({'; '.join(damaged[1:])})" if damaged[1:]
             else "there is no older backup")
    raise DataError(f"{damaged[0]}; {older}; to train again from the start, delete the work "
                    f"directory {os.path.dirname(backup_dir)}")


def describe(resume, steps_per_epoch):
    """One line saying where a resumed run picks up."""
    epoch, batch = divmod(resume.step, steps_per_epoch)
    where = (f"after epoch {resume.epochs_done}" if resume.state["epoch_end"]
             else f"in epoch {epoch + 1} after batch {batch}")
    return f"resumed from step {resume.step} ({where}), backup {resume.directory}"


def remove(backup_dir):
    """Deletes the backups once the run's final model is safely written."""
    if os.path.isdir(backup_dir):
        shutil.rmtree(backup_dir)


def _tracked(model, metrics=True):
    """Every variable a backup holds, by role, in a fixed order."""
    return {"model": model.variables, "optimizer": model.optimizer.variables,
            "metrics": model.metrics_variables if metrics else []}


def _signature(path, shape):
    """A variable's path without the numbers Keras appends to make names unique in a
    process (`dropout_3/seed_generator_5/...`), and its shape."""
    return re.sub(r"_\d+(?=/|$)", "", path), list(shape)


def _check_same_run(resume, tracked, steps_per_epoch):
    """Refuses a backup written by a different model or a different epoch length."""
    fix = f"run with the config that wrote it, or delete {os.path.dirname(resume.directory)}"
    if resume.state["steps_per_epoch"] != steps_per_epoch:
        raise DataError(f"{resume.directory}: written with {resume.state['steps_per_epoch']} "
                        f"steps per epoch, this run has {steps_per_epoch}; {fix}")
    for role in ("model", "optimizer"):
        saved = [_signature(*entry) for entry in resume.state["variables"][role]]
        current = [_signature(v.path, v.shape) for v in tracked[role]]
        if saved != current:
            pairs = itertools.zip_longest(saved, current)
            theirs, ours = next((s, c) for s, c in pairs if s != c)
            raise DataError(f"{resume.directory}: written by a different model ({role} "
                            f"variable {theirs} where this run has {ours}); {fix}")


class Backup(keras.callbacks.Callback):
    """Writes a backup every `every_steps` batches and at every epoch end; restores one.

    Must come last among the callbacks: its epoch-end backup records the
    state the other callbacks leave after that epoch.

    Args:
        directory: the run's backup directory.
        steps_per_epoch: batches in one epoch.
        every_steps: batches between mid-epoch backups; 0 = epoch ends only.
        stateful: callbacks with `backup_state()` / `restore_state(state)`.
        resume: the backup to restore at the start of training, or None.
        write: False on workers that read backups but leave writing to the chief.
        metrics: False under a tf.distribute strategy, where metric variables
            are per replica and summed when read: the resumed epoch's logged
            training metrics then cover the batches after the resume only.
        keep: complete backups kept (the older ones are deleted once a newer one is
            complete); at least 2, so that a damaged newest backup has one to fall back on.
    """

    def __init__(self, directory, steps_per_epoch, every_steps=0, stateful=(), resume=None,
                 write=True, metrics=True, keep=2):
        super().__init__()
        self.directory = directory
        self.steps_per_epoch = steps_per_epoch
        self.every_steps = every_steps
        self.stateful = {f"{i}-{type(c).__name__}": c for i, c in enumerate(stateful)}
        self.resume = resume
        self.write = write
        self.metrics = metrics
        if keep < 2:
            raise ValueError(f"keep={keep}: at least 2 backups are kept")
        self.keep = keep
        self.step = resume.step if resume else 0
        self._metrics_pending = None

    # Restoring.
    def on_train_begin(self, logs=None):
        if self.resume is not None:  # the first fit of a resumed run
            self._metrics_pending = restore_variables(self.model, self.resume,
                                                      self.steps_per_epoch, self.metrics)
            for name, callback in self.stateful.items():
                callback.restore_state(self.resume.state["callbacks"][name])
            self.resume = None
        if self.write and os.path.isdir(self.directory):
            for leftover in glob.glob(os.path.join(self.directory, PREFIX + "*.tmp")):
                shutil.rmtree(leftover)  # a backup a kill cut short

    def on_epoch_begin(self, epoch, logs=None):
        # fit resets the metrics before this; a mid-epoch backup's running means come back.
        if self._metrics_pending is not None:
            for variable, value in zip(self.model.metrics_variables, self._metrics_pending,
                                       strict=True):
                variable.assign(value)
            self._metrics_pending = None

    # Writing.
    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if (self.every_steps and self.step % self.every_steps == 0
                and self.step % self.steps_per_epoch):  # the epoch-end backup follows
            self.save(epoch_end=False)

    def on_epoch_end(self, epoch, logs=None):
        self.save(epoch_end=True)

    def save(self, epoch_end):
        """Writes the backup of the current step (all of it, or nothing: WriteFailed, the
        previous backup kept)."""
        if not self.write:
            return
        tracked = _tracked(self.model, self.metrics)
        state = {
            "step": self.step,
            "epochs_done": self.step // self.steps_per_epoch,
            "epoch_end": epoch_end,
            "stop_training": bool(self.model.stop_training),
            "steps_per_epoch": self.steps_per_epoch,
            "variables": {role: [[v.path, list(v.shape)] for v in variables]
                          for role, variables in tracked.items()},
            "callbacks": {name: c.backup_state() for name, c in self.stateful.items()},
        }
        final = os.path.join(self.directory, f"{PREFIX}{self.step:09d}")
        temporary = final + ".tmp"
        for stale in (temporary, final):
            atomic.remove(stale)
        previous = next((d for d in _complete(self.directory) if _step(d) < self.step), None)
        arrays = {f"{role}/{i}": keras.ops.convert_to_numpy(v.value)
                  for role, variables in tracked.items() for i, v in enumerate(variables)}
        try:
            os.makedirs(temporary)
            variables = os.path.join(temporary, VARIABLES)
            _write_synced(variables, lambda f: np.savez(f, **arrays))
            state["variables_bytes"] = os.path.getsize(variables)
            state["variables_sha256"] = _file_digest(variables)
            state["sha256"] = _state_digest(state)
            _write_synced(os.path.join(temporary, STATE),
                          lambda f: f.write(json.dumps(state, indent=1).encode("utf-8")))
            os.rename(temporary, final)
            atomic.sync_directory(self.directory)
        except OSError as error:
            atomic.remove(temporary)
            raise atomic.WriteFailed(atomic.failed_message(
                final, atomic.reason(error), "backup", kept=(
                    f"nothing of it was left, the previous backup {previous} is kept"
                    if previous else "nothing of it was left"))) from None
        self._prune()

    def _prune(self):
        """Once the backup of this step is complete, deletes all but the newest `keep` and
        any newer than this step (passed over as damaged when the run resumed)."""
        complete = _complete(self.directory)
        newer = [d for d in complete if _step(d) > self.step]
        done = [d for d in complete if _step(d) <= self.step]
        for old in newer + done[self.keep:]:
            shutil.rmtree(old)


def _write_synced(path, write):
    with open(path, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())


def restore_variables(model, resume, steps_per_epoch, metrics=True):
    """Assigns the backup's model and optimizer variables, building the optimizer first
    (Keras builds it in the first step otherwise).

    Returns:
        The backup's metric values, to assign once fit has reset the metrics
        (None if the backup holds none or they are not built yet).
    """
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    tracked = _tracked(model, metrics)
    _check_same_run(resume, tracked, steps_per_epoch)
    with np.load(os.path.join(resume.directory, VARIABLES)) as arrays:
        for role in ("model", "optimizer"):
            for i, variable in enumerate(tracked[role]):
                variable.assign(arrays[f"{role}/{i}"])
        # An epoch-end backup's metrics are validation's, and the next epoch resets them.
        # Keras builds compiled metrics in the first step: if they are not built yet, the
        # resumed epoch's logged training metrics cover the batches after the resume only.
        saved = [_signature(*entry) for entry in resume.state["variables"]["metrics"]]
        current = [_signature(v.path, v.shape) for v in tracked["metrics"]]
        if resume.state["epoch_end"] or saved != current:
            return None
        return [arrays[f"metrics/{i}"] for i in range(len(current))]
