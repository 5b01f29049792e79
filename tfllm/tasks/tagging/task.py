"""Token classification (`task: tagging`, configs/bert_tagger.py): tagged files (CoNLL or
JSON Lines, BIO or BIOES) to a BERT tagger; entity precision, recall and F1 on validation.

The data is read and checked (sentence lengths in WordPieces included) before anything
is written or any model built.
"""

import keras
import numpy as np
import tensorflow as tf

from tfllm.data import examples as examples_lib
from tfllm.data import tokenizer as tokenizer_lib
from tfllm.errors import DataError
from tfllm.evaluation import tables
from tfllm.models import encoder
from tfllm.tasks import base
from tfllm.tasks.tagging import checks
from tfllm.tasks.tagging import examples as tagged_examples
from tfllm.tasks.tagging import features as tagged_pipeline
from tfllm.tasks.tagging import head as token_head
from tfllm.tasks.tagging import report as tagging_report
from tfllm.tasks.tagging import serving
from tfllm.tasks.tagging.alignment import IGNORE_LABEL, TagAligner
from tfllm.tasks.tagging.predictor import Tagger
from tfllm.training import compiling
from tfllm.training import run


def training_texts(config, sentences):
    """The cleaned training sentences (words joined by spaces) a vocabulary is learned from."""
    clean = tagged_pipeline.word_cleaner(config.data.cleaning)
    words = tf.ragged.constant([list(s.tokens) for s in sentences], dtype=tf.string,
                               ragged_rank=1)
    texts = tf.strings.reduce_join(clean(words), axis=1, separator=" ").numpy()
    return [t.decode("utf-8") for t in texts]


def build_aligner(config, vocabulary):
    """The TagAligner of a resolved config: its tokenizer casing and sequence length."""
    tokenizer = tokenizer_lib.build_tokenizer(vocabulary, config.tokenizer.lowercase)
    return TagAligner(tokenizer, config.data.max_seq_length)


class TaggingTask(base.Task):
    """One tag per word (the first WordPiece of each word carries it): AdamW on
    cross-entropy over labelled positions, word-tag accuracy picks the best epoch."""

    name = "tagging"
    head = ("tag_logits",)  # the new per-token layer: trained in full under LoRA

    predictor = Tagger
    export_parts = staticmethod(serving.export_parts)
    command_flags = checks.COMMAND_FLAGS

    def check_config(self, config):
        checks.check_config(config)

    def prepare(self, config, paths):
        sentences = tagged_examples.read(config.data)
        checkpoint = encoder.read_checkpoint(config)
        vocabulary = encoder.choose_vocabulary(config, paths, checkpoint,
                                               lambda: training_texts(config, sentences.train))
        resolved = encoder.resolve(config, len(vocabulary), checkpoint)
        aligner = build_aligner(resolved, vocabulary)
        clean = tagged_pipeline.word_cleaner(config.data.cleaning)
        examples = tagged_examples.prepare(
            sentences, config.data,
            lambda word_lists: tagged_pipeline.align(aligner, clean, word_lists)["num_tokens"])
        print(examples_lib.describe(examples.report), flush=True)
        if len(examples.train) < config.data.batch_size:
            raise DataError(
                f"{config.data.train}: {len(examples.train)} training sentences is less than "
                f"one batch (--config.data.batch_size={config.data.batch_size})")
        run.save_prepared(paths, resolved, examples.report, vocabulary, labels=examples.tags)
        return base.Prepared(resolved, examples, vocabulary, checkpoint)

    def datasets(self, prepared):
        config, examples = prepared.config, prepared.data
        aligner = build_aligner(config, prepared.tokenizer)
        data = config.data
        clean = tagged_pipeline.word_cleaner(data.cleaning)
        train = tagged_pipeline.sentence_features(aligner, clean, examples.train, examples.tags)
        validation = tagged_pipeline.sentence_features(aligner, clean, examples.validation,
                                                       examples.tags)
        train_examples = tagged_pipeline.labelled_examples(train)

        def stream(start_batch):
            return tagged_pipeline.batches(train_examples, data, training=True,
                                           seed=config.seed, start_batch=start_batch)

        val_ds = tagged_pipeline.batches(tagged_pipeline.labelled_examples(validation), data,
                                         training=False)
        return base.Datasets(stream, val_ds, run.steps_per_epoch(config, len(examples.train)),
                             float(np.mean(train["num_tokens"])), extra=validation)

    def build_model(self, prepared):
        config = prepared.config
        return encoder.build(config, len(prepared.tokenizer), prepared.checkpoint,
                             lambda backbone: token_head.build_token_classifier(
                                 backbone, len(prepared.data.tags), config.model.head_dropout))

    def compile_model(self, model, config, steps_per_epoch):
        compiling.compile_encoder_model(
            model, config, steps_per_epoch,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                            ignore_class=IGNORE_LABEL),
            metrics=[token_head.MaskedTokenAccuracy(name="accuracy")])

    def evaluate(self, model, prepared, datasets):
        examples = prepared.data
        predicted = tagged_pipeline.predict_tags(model, datasets.extra, examples.tags)
        return tagging_report.evaluation_report(examples.validation, predicted, "validation")

    def summary(self, report):
        return (f"validation entity F1 {report['f1']:.3f} (precision {report['precision']:.3f}, "
                f"recall {report['recall']:.3f}) on {report['support']} entities in "
                f"{report['sentences']} sentences in {base.minutes(report)}")

    def next_commands(self, workdir, export_dir):
        return [f"tfllm evaluate --workdir={workdir}",
                f"tfllm predict --workdir={workdir} --text='Anna lives in Paris.'",
                f"tfllm export --workdir={workdir} --export_dir={export_dir}"]

    def print_report(self, report):
        print(f"{report['split']}: entity F1 {report['f1']:.4f}  precision "
              f"{report['precision']:.4f}  recall {report['recall']:.4f}  macro-F1 "
              f"{report['macro_f1']:.4f}  tag accuracy {report['accuracy']:.4f}  on "
              f"{report['sentences']} sentences, {report['support']} entities")
        tables.print_scores("entity", report["per_type"])

    def predict_records(self, predictor, request):
        texts, pairs = request.text_inputs(predictor)
        if pairs:
            raise DataError("--text_pair: a tagger tags single texts; drop the flag")
        note = base.cut_note(count_cut(predictor, texts), len(texts),
                             predictor.config.data.max_seq_length)
        if note:
            base.progress(f"{note}; their last words are not tagged")
        for text, spans in zip(texts, predictor.predict(texts), strict=True):
            entities = [{**span, "score": round(span["score"], 4)} for span in spans]
            yield {"text": text, "entities": entities}


def count_cut(tagger, texts, batch_size=256):
    """How many of `texts` need more positions than data.max_seq_length ([CLS] and [SEP]
    included): their words past it get no tag."""
    cut = 0
    for start in range(0, len(texts), batch_size):
        features = tagged_pipeline.text_features(
            tagger.aligner, tagger.clean, tf.constant(texts[start:start + batch_size]))[3]
        cut += int((features["num_tokens"].numpy() > tagger.config.data.max_seq_length).sum())
    return cut


TASK = TaggingTask()
