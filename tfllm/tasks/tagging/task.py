"""train_and_evaluate for token classification (`task: tagging`): tagged files to a work
directory with a BERT tagger.

Same order and guarantees as the classification run (`tfllm.training.loop`,
whose runtime, checkpoint reading, config resolution, callbacks, backups and
saving it calls): config checked, data read and checked (lengths included)
before anything is written or any model built; the same optimizer, metrics
log, backups and resume.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from tfllm import config as config_lib
from tfllm.data import examples as examples_lib
from tfllm.data import labels as labels_lib
from tfllm.tasks.tagging import examples as tagged_examples
from tfllm.tasks.tagging import features as tagged_pipeline
from tfllm.data import tokenizer as tokenizer_lib
from tfllm.tasks.tagging.alignment import IGNORE_LABEL, TagAligner
from tfllm.errors import DataError
from tfllm.tasks.tagging import report as tagging_report
from tfllm.models import bert
from tfllm.models import pretrained
from tfllm.models import token_head
from tfllm.training import loop
from tfllm.training import optimizers


HEAD = ("tag_logits",)  # the new per-token layer: trained in full under LoRA


def vocabulary_for(config, sentences, paths, checkpoint=None):
    """The work directory's vocabulary (a resumed run), the checkpoint's, the config's, or
    one learned from the cleaned training words."""
    if os.path.exists(paths.vocabulary):
        return tokenizer_lib.load_vocabulary(paths.vocabulary)
    if checkpoint is not None:
        return checkpoint.vocabulary
    if config.tokenizer.vocabulary:
        return tokenizer_lib.load_vocabulary(config.tokenizer.vocabulary)
    clean = tagged_pipeline.word_cleaner(config.data.cleaning)
    words = tf.ragged.constant([list(s.tokens) for s in sentences], dtype=tf.string,
                               ragged_rank=1)
    texts = tf.strings.reduce_join(clean(words), axis=1, separator=" ").numpy()
    return tokenizer_lib.learn_vocabulary([t.decode("utf-8") for t in texts],
                                          config.tokenizer.vocabulary_size,
                                          config.tokenizer.min_frequency)


def build_aligner(config, vocabulary):
    """The TagAligner of a resolved config: its tokenizer casing and sequence length."""
    tokenizer = tokenizer_lib.build_tokenizer(vocabulary, config.tokenizer.lowercase)
    return TagAligner(tokenizer, config.data.max_seq_length)


def prepare_workdir(config, paths):
    """Reads and checks the data, then writes tokenizer files, resolved config and data report.

    Nothing is written before every check has passed, so a run refused for its
    data leaves no vocabulary behind for the next attempt to pick up.

    Returns:
        (TaggedExamples, vocabulary, aligner, resolved config, pretrained checkpoint or None).
    """
    sentences = tagged_examples.read(config.data)
    checkpoint = loop.read_checkpoint(config)
    vocabulary = vocabulary_for(config, sentences.train, paths, checkpoint)
    resolved = loop.resolve(config, len(vocabulary), checkpoint)
    aligner = build_aligner(resolved, vocabulary)
    clean = tagged_pipeline.word_cleaner(config.data.cleaning)
    examples = tagged_examples.prepare(
        sentences, config.data,
        lambda word_lists: tagged_pipeline.align(aligner, clean, word_lists)["num_tokens"])
    print(examples_lib.describe(examples.report), flush=True)
    if len(examples.train) < config.data.batch_size:
        raise DataError(
            f"{config.data.train}: {len(examples.train)} training sentences is less than one "
            f"batch (--config.data.batch_size={config.data.batch_size})")
    paths.make_dirs()
    tokenizer_lib.save_vocabulary(vocabulary, paths.vocabulary)
    labels_lib.save_labels(examples.tags, paths.labels)
    config_lib.save(resolved, paths.config)
    loop.write_json(paths.data_report, examples.report)
    return examples, vocabulary, aligner, resolved, checkpoint


def build_model(config, vocabulary_size, num_tags, checkpoint=None):
    """The token classifier a (resolved) config describes, uncompiled.

    Returns:
        (model, WeightReport of the pretrained import or None).
    """
    if checkpoint is None:
        kwargs = bert.backbone_kwargs(config.model, vocabulary_size, config.data.max_seq_length)
        return token_head.build_token_classifier(
            bert.build_backbone(kwargs), num_tags, config.model.head_dropout), None
    backbone, report = pretrained.load_bert_backbone(
        checkpoint, config.model.backbone.dropout, unsafe=config.model.init_unsafe)
    model = token_head.build_token_classifier(backbone, num_tags, config.model.head_dropout)
    return model, report.with_new_weights(model.weights, backbone.weights)


def compile_model(model, config, steps_per_epoch):
    """Compiles with AdamW, cross-entropy over labelled positions and word-tag accuracy."""
    bert.add_l2(model, config.train.l2)
    model.compile(
        optimizer=optimizers.build_optimizer(config.train, steps_per_epoch),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                        ignore_class=IGNORE_LABEL),
        metrics=[token_head.MaskedTokenAccuracy(name="accuracy")],
        jit_compile=config.runtime.jit_compile,
    )


def fit(config, paths, examples, aligner, vocabulary_size, checkpoint, strategy, resume):
    """Builds features, builds and compiles the model under `strategy`, trains it from
    `resume` (a backup, or None); returns (model, validation features)."""
    data = config.data
    clean = tagged_pipeline.word_cleaner(data.cleaning)
    train = tagged_pipeline.sentence_features(aligner, clean, examples.train, examples.tags)
    validation = tagged_pipeline.sentence_features(aligner, clean, examples.validation,
                                                   examples.tags)
    train_examples = tagged_pipeline.labelled_examples(train)

    def stream(start_batch):
        return tagged_pipeline.batches(train_examples, data, training=True, seed=config.seed,
                                       start_batch=start_batch)

    val_ds = tagged_pipeline.batches(tagged_pipeline.labelled_examples(validation), data,
                                     training=False)
    tokens_per_example = float(np.mean(train["num_tokens"]))
    full_epoch = len(examples.train) // data.batch_size
    steps_per_epoch = min(config.train.steps_per_epoch or full_epoch, full_epoch)

    model = loop.train_model(
        config, paths, strategy, resume,
        build=lambda: build_model(config, vocabulary_size, len(examples.tags), checkpoint),
        recompile=lambda model: compile_model(model, config, steps_per_epoch), head=HEAD,
        stream=stream, val_ds=val_ds, tokens_per_example=tokens_per_example,
        steps_per_epoch=steps_per_epoch)
    return model, validation


def train_and_evaluate(config, workdir):
    """Trains the tagger `config` describes; writes everything into `workdir`.

    Started again with the same arguments after a crash or a kill, it resumes
    from the last backup in `workdir/backup/` (see `tfllm.training.backup`).

    Returns:
        The validation report (`tagging_report.evaluation_report`: entity
        precision, recall and F1, micro and per type), plus wall time and the
        work directory.
    """
    def train_then_evaluate(paths, strategy, resume):
        examples, vocabulary, aligner, resolved, checkpoint = prepare_workdir(config, paths)
        with loop.runtime(resolved):
            model, validation = fit(resolved, paths, examples, aligner, len(vocabulary),
                                    checkpoint, strategy, resume)
            loop.save_model(model, paths)
            predicted = tagged_pipeline.predict_tags(model, validation, examples.tags)
        return tagging_report.evaluation_report(examples.validation, predicted, "validation")

    return loop.run_in_workdir(config, workdir, train_then_evaluate)
