"""The one run skeleton every task goes through, from config to finished work directory.

`train_and_evaluate(task, config, workdir)`: validate -> prepare the data and tokenizer
(nothing written until every check passes) -> datasets -> build -> LoRA -> compile ->
fit (callbacks, backups, resume) -> save model.keras -> evaluate -> eval.json. The task
(`tfllm.tasks.base.Task`) supplies each step's task-specific part.

Order matters: the config is validated and the data read and checked before any model
is built, so bad input fails in seconds, not after an epoch.
"""

import contextlib
import json
import os
import tempfile
import time

import keras
import tensorflow as tf

from tfllm import atomic
from tfllm import config as config_lib
from tfllm import locking
from tfllm.data import bpe
from tfllm.data import labels as labels_lib
from tfllm.data import tokenizer as tokenizer_lib
from tfllm.errors import TfllmError
from tfllm.models import lora
from tfllm.models import lora_files
from tfllm.training import backup
from tfllm.training import callbacks as callbacks_lib
from tfllm.training import distribution
from tfllm.training import fitting
from tfllm.training import precision
from tfllm.workdir import Paths


@contextlib.contextmanager
def runtime(config):
    """Applies seeds, determinism and precision for one run; restores the precision after.

    The Keras precision policy is process-global; restoring it keeps one
    bfloat16 run from changing models built later in the same process.
    """
    previous = keras.mixed_precision.global_policy()
    keras.utils.set_random_seed(config.seed)
    if config.runtime.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_global_policy(precision.resolve(
        config.runtime.mixed_precision, config.runtime.get("distribution", "none")))
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def split_patterns(text):
    """Splits comma-separated patterns: "query, value" -> ("query", "value")."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_lora(model, config, head=()):
    """Applies the config's `train.lora` to `model` (built, not yet compiled): adapters on the
    targets, the `head` and train_also patterns trained in full, every other weight frozen.

    Returns:
        The `lora.LoraSummary`, or None when `train.lora.rank` is 0 (or the config has no
        `train.lora`): then the model is left as it is.
    """
    settings = config.train.get("lora")
    if not settings or not settings.rank:
        return None
    if not config.model.init_from:
        print("warning: LoRA on random weights (--config.model.init_from is ''): only the "
              "adapters and the trained-in-full layers learn, the frozen random rest never "
              "does; name a pretrained model.init_from", flush=True)
    return lora.apply_lora(model, settings.rank, alpha=settings.alpha or None,
                           dropout=settings.dropout, targets=split_patterns(settings.targets),
                           train_also=head + split_patterns(settings.train_also))


def finish_lora(model, paths, recompile):
    """Writes a LoRA model's adapters to adapters.npz and merges them into its kernels, so
    that model.keras is a plain model; `recompile()` then gives it a fresh optimizer (the old
    one's moments were the adapters'). Leaves a model without LoRA as it is."""
    if lora.lora_summary(model) is None:
        return
    lora_files.save_adapters(model, paths.adapters)
    lora.merge_lora(model)
    recompile()


def report_import(report, paths):
    """Prints the import's WeightReport and keeps it in the work directory."""
    for line in report.lines():
        print(line, flush=True)
    write_json(paths.init_report, report.as_dict())


def write_json(path, value):
    """Writes `value` as JSON to `path`, atomically (`atomic.WriteFailed` if it cannot)."""
    def write(temporary):
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump(value, f, indent=2)

    atomic.replace(path, write)


def save_prepared(paths, config, data_report, vocabulary, merges=None, labels=None):
    """Writes what every task's `prepare` writes once all its checks have passed: the
    tokenizer (a WordPiece vocab.txt, or with `merges` a byte-level BPE's vocab.json and
    merges.txt), the labels (if any), config.json and data_report.json."""
    paths.make_dirs()
    if merges is None:
        tokenizer_lib.save_vocabulary(vocabulary, paths.vocabulary)
    else:
        bpe.save(vocabulary, merges, paths.tokenizer)
    if labels is not None:
        labels_lib.save_labels(labels, paths.labels)
    config_lib.save(config, paths.config)
    write_json(paths.data_report, data_report)


def check_writable(paths):
    """Refuses, before any work, a work directory whose checkpoints/, backup/ or logs/
    cannot be written (a file in the way, a read-only mount): else the run would fail at
    its first checkpoint or backup, an epoch later. Leaves no directory it made."""
    for directory in (paths.checkpoints, paths.backup, paths.logs):
        if os.path.lexists(directory) and not os.path.isdir(directory):
            raise TfllmError(f"{directory} is a file; the run writes a directory there: "
                             "move the file away or choose another --workdir")
        created = not os.path.exists(directory)
        try:
            os.makedirs(directory, exist_ok=True)
            with tempfile.TemporaryFile(dir=directory):
                pass
        except OSError as error:
            raise TfllmError(f"{directory}: cannot write there ({error.strerror}); choose "
                             "a --workdir where the run can write") from None
        finally:
            if created and os.path.isdir(directory):
                os.rmdir(directory)


def check_resumable(paths):
    """Refuses a work directory that holds a finished run (a crashed one resumes)."""
    if os.path.exists(paths.model) and not os.path.exists(paths.backup):
        raise TfllmError(f"{paths.root} already holds a finished run (model.keras); "
                         "choose another --workdir or delete it")


def fit_model(task, prepared, datasets, paths, strategy, resume):
    """Builds the task's model under `strategy`, adds the config's LoRA adapters (the
    task's `head` trained in full), compiles, fits from `resume` (a backup, or None) with
    the standard callbacks, then saves and merges the adapters.

    Returns:
        The trained model (LoRA merged into it).
    """
    config = prepared.config
    steps = datasets.steps_per_epoch
    with strategy.scope():
        model, report = task.build_model(prepared)
        adapters = add_lora(model, config, task.head)  # before the optimizer and any restore
        task.compile_model(model, config, steps)
    if report is not None:
        report_import(report, paths)
    if adapters is not None:
        print(adapters, flush=True)
    callbacks = callbacks_lib.standard_callbacks(config, paths, datasets, resume, task.monitor)
    fitting.fit(model, datasets, config.train, callbacks, resume)
    with strategy.scope():
        finish_lora(model, paths, lambda: task.compile_model(model, config, steps))
    if config.runtime.distribution != "none":
        print(f"final weights {distribution.weights_digest(model)}", flush=True)
    return model


def steps_per_epoch(config, examples):
    """Optimizer steps per epoch: a full pass over `examples` in whole batches, or fewer
    with train.steps_per_epoch."""
    full_epoch = examples // config.data.batch_size
    return min(config.train.steps_per_epoch or full_epoch, full_epoch)


def resume_point(paths, chief=True):
    """The last backup of the run in `paths`, or None; the chief cuts the metrics log back
    to it."""
    resume = backup.latest(paths.backup)
    if resume is not None and chief:
        callbacks_lib.keep_epochs(paths.metrics, resume.epochs_done)
    return resume


# What Keras' `model.save` stores beside the model: the optimizer with its state (Adam's
# moments are twice the weights), the compiled loss and metrics, and the compile config,
# from which `load_model` compiles a fresh optimizer that then refuses the saved state
# ("Skipping variable loading for optimizer"). A resume needs that state: the backups hold it.
_TRAINING_STATE = ("optimizer", "loss", "_compile_loss", "_compile_metrics", "_loss_tracker")


@contextlib.contextmanager
def without_training_state(model):
    """`model`, for the body, as an uncompiled model: no optimizer, compiled loss or metrics
    (what model.keras holds; it loads uncompiled). Everything is put back after."""
    kept = {name: vars(model)[name] for name in (*_TRAINING_STATE, "compiled")
            if name in vars(model)}
    try:
        for name in _TRAINING_STATE:  # object.__setattr__: Keras' tracking sees no change
            object.__setattr__(model, name, None)
        object.__setattr__(model, "compiled", False)  # so no compile config is saved
        yield model
    finally:
        for name in (*_TRAINING_STATE, "compiled"):
            if name in kept:
                object.__setattr__(model, name, kept[name])
            else:
                vars(model).pop(name, None)


def save_model(model, paths):
    """Writes model.keras (the model alone: `without_training_state`) atomically, then drops
    the backups it makes redundant. A failed write (`atomic.WriteFailed`) keeps both."""
    with without_training_state(model):
        atomic.replace(paths.model, model.save)
    backup.remove(paths.backup)


def train_and_evaluate(task, config, workdir):
    """Trains the model `config` describes with `task`; writes everything into `workdir`.

    Started again with the same arguments after a crash or a kill, it resumes from the
    last backup in `workdir/backup/` (see `tfllm.training.backup`).

    Returns:
        The task's validation report, plus wall time and the work directory.
    """
    def train_then_evaluate(paths, strategy, resume):
        prepared = task.prepare(config, paths)
        with runtime(prepared.config):
            datasets = task.datasets(prepared)
            model = fit_model(task, prepared, datasets, paths, strategy, resume)
            save_model(model, paths)
            return task.evaluate(model, prepared, datasets)

    return run_in_workdir(config, workdir, train_then_evaluate)


def run_in_workdir(config, workdir, train_then_evaluate):
    """The life of every run: validates `config`, takes the work directory's lock (a
    second process fails at once: `tfllm.locking`), refuses a finished `workdir` and one
    whose checkpoints/, backup/ or logs/ it cannot write, finds the backup a killed run
    resumes from, calls `train_then_evaluate(paths, strategy, resume)` in the work
    directory this process writes (`distribution.workspace`: a multi-worker run's non-chief
    workers write a scratch copy) and saves the report it returns as eval.json.

    Returns:
        The report, plus wall time and the work directory.
    """
    start = time.perf_counter()
    config_lib.validate(config)
    strategy = distribution.strategy_for(config.runtime)
    paths = Paths(workdir)
    chief = distribution.is_chief(config.runtime.distribution)
    # The chief alone writes the work directory, so it alone holds its lock.
    with (locking.locked(workdir, "this run") if chief else contextlib.nullcontext()):
        check_resumable(paths)
        with distribution.workspace(paths, chief) as own:
            check_writable(own)
            report = train_then_evaluate(own, strategy, resume_point(paths, chief))
            write_json(own.eval, report)
    return {**report, "wall_seconds": round(time.perf_counter() - start, 1), "workdir": workdir}
