"""train_and_evaluate: the whole classification run, from config to work directory.

It also holds what every task's run shares (`run_in_workdir`: validation, resume and the
report; `train_model`: build, LoRA, compile and fit; precision, checkpoints, saving), which
the language-model, tagging, QA and seq2seq loops call.

Order matters: the config is validated and the data read and checked before
any model is built, so bad input fails in seconds, not after an epoch.
"""

import contextlib
import json
import os
import time

import keras
import numpy as np
import tensorflow as tf

from tfllm import atomic
from tfllm import config as config_lib
from tfllm.data import cleaning
from tfllm.data import examples as examples_lib
from tfllm.data import labels as labels_lib
from tfllm.data import pipeline
from tfllm.data import tokenizer as tokenizer_lib
from tfllm.errors import ConfigError, DataError, TfllmError
from tfllm.tasks.classification import report as classification
from tfllm.models import bert
from tfllm.tasks.classification import head as heads
from tfllm.models import pretrained
from tfllm.training import backup
from tfllm.training import callbacks as callbacks_lib
from tfllm.training import distribution
from tfllm.training import fitting
from tfllm.models import lora
from tfllm.training import optimizers
from tfllm.training import precision
from tfllm.workdir import Paths, finished_run


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


def vocabulary_for(config, examples, paths, checkpoint=None):
    """Returns the vocabulary: the work directory's (a resumed run), the checkpoint's,
    the config's, or a learned one."""
    if os.path.exists(paths.vocabulary):
        return tokenizer_lib.load_vocabulary(paths.vocabulary)
    if checkpoint is not None:
        return checkpoint.vocabulary
    if config.tokenizer.vocabulary:
        return tokenizer_lib.load_vocabulary(config.tokenizer.vocabulary)
    clean = cleaning.clean_fn(config.data.cleaning)
    texts = [r.text for r in examples.train] + [r.text_pair for r in examples.train if r.text_pair]
    cleaned = [t.decode("utf-8") for t in clean(tf.constant(texts)).numpy()]
    return tokenizer_lib.learn_vocabulary(
        cleaned, config.tokenizer.vocabulary_size, config.tokenizer.min_frequency)


def check_fits_context(config, context, checkpoint_path):
    """Refuses data.max_seq_length beyond the `context` positions of a pretrained checkpoint."""
    if config.data.max_seq_length > context:
        raise ConfigError("data.max_seq_length", (
            f"got {config.data.max_seq_length}, more than the {context} positions of "
            f"{checkpoint_path}"))


def resolve(config, vocabulary_size, checkpoint=None):
    """Returns a copy of `config` with model.backbone filled in from model.size,
    or from the pretrained checkpoint (whose tokenizer casing it takes too)."""
    resolved = config.copy_and_resolve_references()
    kwargs = bert.backbone_kwargs(config.model, vocabulary_size, config.data.max_seq_length)
    if checkpoint is not None:
        kwargs.update(checkpoint.dims)
        check_fits_context(config, checkpoint.dims["max_sequence_length"], checkpoint.path)
    with resolved.unlocked():
        for key in ("num_layers", "num_heads", "hidden_dim", "intermediate_dim"):
            resolved.model.backbone[key] = kwargs[key]
        if checkpoint is not None:
            resolved.tokenizer.lowercase = checkpoint.lowercase
        resolved.runtime.mixed_precision = precision.resolve(
            config.runtime.mixed_precision, config.runtime.distribution)
    return resolved


def build_model(config, vocabulary_size, num_labels, checkpoint=None):
    """Builds the classifier a (resolved) config describes, uncompiled.

    Returns:
        (model, WeightReport of the pretrained import or None).
    """
    if checkpoint is None:
        kwargs = bert.backbone_kwargs(config.model, vocabulary_size, config.data.max_seq_length)
        return heads.build_classifier(bert.build_backbone(kwargs), num_labels,
                                      config.model.head_dropout, config.model.pooling), None
    backbone, report = pretrained.load_bert_backbone(
        checkpoint, config.model.backbone.dropout, unsafe=config.model.init_unsafe)
    model = heads.build_classifier(
        backbone, num_labels, config.model.head_dropout, config.model.pooling)
    return model, report.with_new_weights(model.weights, backbone.weights)


# The classifier's new output layer (heads.build_classifier and keras-hub's BertTextClassifier
# both name it so): under LoRA it trains in full, as nothing pretrained it.
HEAD = ("logits",)


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
    lora.save_adapters(model, paths.adapters)
    lora.merge_lora(model)
    recompile()


def base_model(workdir):
    """The model the finished run in `workdir` started from, rebuilt without LoRA: the encoder
    `model.init_from` names under a new, random head (as the run built it before training).

    A LoRA run's adapter files (adapters.npz, checkpoints/*.adapters.npz) hold the trained
    head too; `lora.load_adapters(base_model(workdir), file)` gives the model they trained.
    """
    paths, config = finished_run(workdir)
    vocabulary = tokenizer_lib.load_vocabulary(paths.vocabulary)
    labels = labels_lib.load_labels(paths.labels)
    with runtime(config):
        model, _ = build_model(config, len(vocabulary), len(labels), read_checkpoint(config))
    return model


def report_import(report, paths):
    """Prints the import's WeightReport and keeps it in the work directory."""
    for line in report.lines():
        print(line, flush=True)
    write_json(paths.init_report, report.as_dict())


def compile_model(model, config, steps_per_epoch):
    """Compiles with AdamW, label-smoothed cross-entropy and accuracy."""
    train_config = config.train
    bert.add_l2(model, train_config.l2)
    model.compile(
        optimizer=optimizers.build_optimizer(train_config, steps_per_epoch),
        loss=keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=train_config.label_smoothing),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        jit_compile=config.runtime.jit_compile,
    )


def predict_probabilities(model, dataset):
    """Returns (true ids, class probabilities) over a labelled dataset of one-hot labels."""
    y_true, probabilities = [], []
    for features, labels in dataset:
        logits = tf.cast(model(features, training=False), tf.float32)
        probabilities.append(tf.nn.softmax(logits).numpy())
        y_true.append(np.argmax(labels.numpy(), axis=-1))
    return np.concatenate(y_true), np.concatenate(probabilities)


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2)


def check_resumable(paths):
    """Refuses a work directory that holds a finished run (a crashed one resumes)."""
    if os.path.exists(paths.model) and not os.path.exists(paths.backup):
        raise TfllmError(f"{paths.root} already holds a finished run (model.keras); "
                         "choose another --workdir or delete it")


def read_checkpoint(config):
    """The pretrained encoder `model.init_from` names (its vocabulary and shape), or None."""
    if not config.model.init_from:
        return None
    return pretrained.read_bert_checkpoint(config.model.init_from, config.tokenizer,
                                           config.model.init_unsafe)


def prepare_workdir(config, paths):
    """Reads the data and writes tokenizer files, resolved config and data report.

    Returns:
        (examples, vocabulary, resolved config, pretrained checkpoint or None).
    """
    examples = examples_lib.prepare(config.data)
    print(examples_lib.describe(examples.report), flush=True)
    if len(examples.train) < config.data.batch_size:
        raise DataError(
            f"{config.data.train}: {len(examples.train)} training examples is less than one "
            f"batch (--config.data.batch_size={config.data.batch_size})")
    checkpoint = read_checkpoint(config)
    paths.make_dirs()
    vocabulary = vocabulary_for(config, examples, paths, checkpoint)
    tokenizer_lib.save_vocabulary(vocabulary, paths.vocabulary)
    labels_lib.save_labels(examples.labels, paths.labels)
    resolved = resolve(config, len(vocabulary), checkpoint)
    config_lib.save(resolved, paths.config)
    write_json(paths.data_report, examples.report)
    return examples, vocabulary, resolved, checkpoint


def fit(config, paths, examples, vocabulary, checkpoint, strategy, resume):
    """Builds and compiles the model under `strategy`, trains it from `resume` (a backup, or
    None); returns it with the validation dataset."""
    preprocessor = pipeline.build_preprocessor(
        tokenizer_lib.build_tokenizer(vocabulary, config.tokenizer.lowercase),
        config.data.max_seq_length)

    train = pipeline.cached_features(examples.train, examples.labels, preprocessor,
                                     config.data)
    # One pass in order tokenizes the training set into the cache every stream reads.
    tokens_per_example = pipeline.mean_tokens(
        pipeline.batches(train, config.data, training=False))

    def stream(start_batch):
        return pipeline.batches(train, config.data, training=True, seed=config.seed,
                                start_batch=start_batch)

    val_ds = pipeline.classification_dataset(
        examples.validation, examples.labels, preprocessor, config.data, training=False)
    full_epoch = len(examples.train) // config.data.batch_size
    steps_per_epoch = min(config.train.steps_per_epoch or full_epoch, full_epoch)

    model = train_model(
        config, paths, strategy, resume,
        build=lambda: build_model(config, len(vocabulary), len(examples.labels), checkpoint),
        recompile=lambda model: compile_model(model, config, steps_per_epoch), head=HEAD,
        stream=stream, val_ds=val_ds, tokens_per_example=tokens_per_example,
        steps_per_epoch=steps_per_epoch)
    return model, val_ds


def train_model(config, paths, strategy, resume, *, build, recompile, head, stream, val_ds,
                tokens_per_example, steps_per_epoch, monitor="val_accuracy", mode="max"):
    """What every task's training shares: builds the model under `strategy`, adds the
    config's LoRA adapters, compiles, fits from `resume` (a backup, or None) with the
    standard callbacks, then saves and merges the adapters.

    Args:
        build: () -> (uncompiled model, WeightReport of a pretrained import or None).
        recompile: model -> None; compiles it (the task's loss, metrics and optimizer).
        head: names of the task's new layers, trained in full under LoRA.
        stream: start_batch -> the training dataset from that batch on.
        monitor, mode: the validation metric that picks the best checkpoint.

    Returns:
        The trained model (LoRA merged into it).
    """
    with strategy.scope():
        model, report = build()
        adapters = add_lora(model, config, head)  # before the optimizer and any restore
        recompile(model)
    if report is not None:
        report_import(report, paths)
    if adapters is not None:
        print(adapters, flush=True)
    distributed = config.runtime.distribution != "none"
    callbacks = callbacks_lib.standard_callbacks(
        config.train, paths, config.data.batch_size, tokens_per_example, steps_per_epoch,
        resume, chief=distribution.is_chief(config.runtime.distribution),
        distributed=distributed, monitor=monitor, mode=mode)
    fitting.fit(model, stream, val_ds, config.train.epochs, steps_per_epoch, callbacks, resume,
                config.train.verbose)
    with strategy.scope():
        finish_lora(model, paths, lambda: recompile(model))
    if distributed:
        print(f"final weights {distribution.weights_digest(model)}", flush=True)
    return model


def resume_point(paths, chief=True):
    """The last backup of the run in `paths`, or None; the chief cuts the metrics log back
    to it."""
    resume = backup.latest(paths.backup)
    if resume is not None and chief:
        callbacks_lib.keep_epochs(paths.metrics, resume.epochs_done)
    return resume


def save_model(model, paths):
    """Writes model.keras atomically, then drops the backups it makes redundant."""
    atomic.replace(paths.model, model.save)
    backup.remove(paths.backup)


def train_and_evaluate(config, workdir):
    """Trains the classifier `config` describes; writes everything into `workdir`.

    Started again with the same arguments after a crash or a kill, it resumes
    from the last backup in `workdir/backup/` (see `tfllm.training.backup`).

    Returns:
        The evaluation report (see `classification.classification_report`)
        on the validation examples, plus wall time and the work directory.
    """
    def train_then_evaluate(paths, strategy, resume):
        examples, vocabulary, resolved, checkpoint = prepare_workdir(config, paths)
        with runtime(resolved):
            model, val_ds = fit(resolved, paths, examples, vocabulary, checkpoint, strategy,
                                resume)
            save_model(model, paths)
            y_true, probabilities = predict_probabilities(model, val_ds)
        return classification.evaluation_report(y_true, probabilities, examples.labels,
                                                "validation")

    return run_in_workdir(config, workdir, train_then_evaluate)


def run_in_workdir(config, workdir, train_then_evaluate):
    """The life of every task's run: validates `config`, refuses a finished `workdir`, finds
    the backup a killed run resumes from, calls `train_then_evaluate(paths, strategy,
    resume)` in the work directory this process writes (`distribution.workspace`: a
    multi-worker run's non-chief workers write a scratch copy) and saves the report it
    returns as eval.json.

    Returns:
        The report, plus wall time and the work directory.
    """
    start = time.perf_counter()
    config_lib.validate(config)
    strategy = distribution.strategy_for(config.runtime)
    paths = Paths(workdir)
    check_resumable(paths)
    chief = distribution.is_chief(config.runtime.distribution)
    with distribution.workspace(paths, chief) as own:
        report = train_then_evaluate(own, strategy, resume_point(paths, chief))
        write_json(own.eval, report)
    return {**report, "wall_seconds": round(time.perf_counter() - start, 1), "workdir": workdir}
