"""Text classification (`task: text_classification`, configs/bert_classifier.py): labelled
texts (or text pairs) to a BERT classifier with a softmax head."""

import keras
import numpy as np
import tensorflow as tf

from tfllm.data import cleaning
from tfllm.data import examples as examples_lib
from tfllm.data import labels as labels_lib
from tfllm.data import pipeline
from tfllm.data import tokenizer as tokenizer_lib
from tfllm.errors import DataError, TfllmError
from tfllm.evaluation import tables
from tfllm.models import encoder
from tfllm.tasks import base
from tfllm.tasks.classification import checks
from tfllm.tasks.classification import head as heads
from tfllm.tasks.classification import report as classification
from tfllm.tasks.classification import serving
from tfllm.tasks.classification.pipeline import TextClassificationPipeline
from tfllm.tasks.classification.predictor import TextClassifier
from tfllm.training import compiling
from tfllm.training import run
from tfllm.workdir import finished_run


class ClassificationTask(base.Task):
    """One label per text: AdamW on label-smoothed cross-entropy, accuracy picks the best
    epoch; evaluation reports accuracy, F1, calibration and the confusion matrix."""

    name = "text_classification"
    # The new output layer (heads.build_classifier and keras-hub's BertTextClassifier both
    # name it so): under LoRA it trains in full, as nothing pretrained it.
    head = ("logits",)
    pipelines = {"text-classification": TextClassificationPipeline}
    try_command = "tfllm predict --workdir={workdir} --text='What is AI?'"

    predictor = TextClassifier
    export_parts = staticmethod(serving.export_parts)
    command_flags = checks.COMMAND_FLAGS

    def check_config(self, config):
        checks.check_config(config)

    def prepare(self, config, paths):
        examples = examples_lib.prepare(config.data)
        print(examples_lib.describe(examples.report), flush=True)
        if len(examples.train) < config.data.batch_size:
            raise DataError(
                f"{config.data.train}: {len(examples.train)} training examples is less than "
                f"one batch (--config.data.batch_size={config.data.batch_size})")
        checkpoint = encoder.read_checkpoint(config)
        vocabulary = encoder.choose_vocabulary(config, paths, checkpoint,
                                               lambda: training_texts(examples, config))
        resolved = encoder.resolve(config, len(vocabulary), checkpoint)
        run.save_prepared(paths, resolved, examples.report, vocabulary, labels=examples.labels)
        return base.Prepared(resolved, examples, vocabulary, checkpoint)

    def datasets(self, prepared):
        config, examples = prepared.config, prepared.data
        preprocessor = pipeline.build_preprocessor(
            tokenizer_lib.build_tokenizer(prepared.tokenizer, config.tokenizer.lowercase),
            config.data.max_seq_length)
        train = pipeline.cached_features(examples.train, examples.labels, preprocessor,
                                         config.data)
        # One pass in order tokenizes the training set into the cache every stream reads.
        tokens_per_example = pipeline.mean_tokens(
            pipeline.batches(train, config.data, training=False))

        def stream(start_batch):
            return pipeline.batches(train, config.data, training=True, seed=config.seed,
                                    start_batch=start_batch)

        validation = pipeline.classification_dataset(
            examples.validation, examples.labels, preprocessor, config.data, training=False)
        return base.Datasets(stream, validation, run.steps_per_epoch(config, len(examples.train)),
                             tokens_per_example)

    def build_model(self, prepared):
        return build(prepared.config, len(prepared.tokenizer), len(prepared.data.labels),
                     prepared.checkpoint)

    def compile_model(self, model, config, steps_per_epoch):
        compiling.compile_encoder_model(
            model, config, steps_per_epoch,
            loss=keras.losses.CategoricalCrossentropy(
                from_logits=True, label_smoothing=config.train.label_smoothing),
            metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])

    def evaluate(self, model, prepared, datasets):
        y_true, probabilities = predict_probabilities(model, datasets.validation)
        return classification.evaluation_report(y_true, probabilities, prepared.data.labels,
                                                "validation")

    def base_model(self, workdir):
        """The encoder `model.init_from` names under a new, random head (as the run built
        it before training). A LoRA run's adapter files hold the trained head too."""
        paths, config = finished_run(workdir)
        vocabulary = tokenizer_lib.load_vocabulary(paths.vocabulary)
        labels = labels_lib.load_labels(paths.labels)
        with run.runtime(config):
            model, _ = build(config, len(vocabulary), len(labels),
                             encoder.read_checkpoint(config))
        return model

    def summary(self, report):
        return (f"validation accuracy {report['accuracy']:.3f} on {report['examples']} examples "
                f"(majority-class baseline {report['majority_baseline']:.3f}, "
                f"macro-F1 {report['macro_f1']:.3f}) in {base.minutes(report)}")

    def print_report(self, report):
        print(f"{report['split']}: accuracy {report['accuracy']:.4f}  macro-F1 "
              f"{report['macro_f1']:.4f}  micro-F1 {report['micro_f1']:.4f}  ECE "
              f"{report['ece']:.4f}  on {report['examples']} examples (majority baseline "
              f"{report['majority_baseline']:.4f})")
        tables.print_scores("label", report["per_label"])

    def evaluate_run(self, predictor, data, generate=False, max_examples=0):
        """The report of `evaluate`, with "truncated": how many texts were cut to fit (also
        said on stderr, with how many texts are evaluated)."""
        if generate:
            raise TfllmError(f"--generate: a {self.name} run generates no text; drop the flag")
        records = predictor.evaluation_records(data)
        base.progress(f"evaluating {len(records):,} texts ...")
        cut = count_cut(predictor, *predictor.segments(records))
        note = base.cut_note(cut, len(records), predictor.config.data.max_seq_length)
        if note:
            base.progress(note)
        return {**predictor.evaluate(data, records=records), "truncated": cut}

    def check_flags(self, command, given, config):
        checks.check_flags(command, given, config)

    def predict_records(self, predictor, request):
        texts, pairs = request.text_inputs(predictor)
        note = base.cut_note(count_cut(predictor, texts, pairs), len(texts),
                             predictor.config.data.max_seq_length)
        if note:
            base.progress(note)
        for text, result in zip(texts, predictor.predict(texts, pairs)):
            top = sorted(result["probabilities"].items(), key=lambda kv: -kv[1])[:request.top_k]
            yield {"text": text, "label": result["label"], "score": round(result["score"], 4),
                   "probabilities": {k: round(v, 4) for k, v in top}}


def training_texts(examples, config):
    """The cleaned training texts (and pairs) a vocabulary is learned from."""
    clean = cleaning.clean_fn(config.data.cleaning)
    texts = [r.text for r in examples.train] + [r.text_pair for r in examples.train if r.text_pair]
    return [t.decode("utf-8") for t in clean(tf.constant(texts)).numpy()]


def count_cut(predictor, texts, pairs=None, batch_size=256):
    """How many of `texts` (with their `pairs`) the run's packer cuts: those with more word
    pieces, after cleaning, than data.max_seq_length leaves room for beside [CLS] and [SEP]."""
    clean = cleaning.clean_fn(predictor.config.data.cleaning)
    tokenizer = predictor.preprocessor.tokenizer

    def pieces(batch):
        return np.asarray(base.lengths(tokenizer(clean(tf.constant(batch, tf.string)))))

    room = predictor.config.data.max_seq_length - (3 if pairs else 2)
    cut = 0
    for start in range(0, len(texts), batch_size):
        lengths = pieces(texts[start:start + batch_size])
        if pairs:
            lengths = lengths + pieces(pairs[start:start + batch_size])
        cut += int((lengths > room).sum())
    return cut


def build(config, vocabulary_size, num_labels, checkpoint=None):
    """The classifier a (resolved) config describes, uncompiled: (model, WeightReport or
    None)."""
    return encoder.build(config, vocabulary_size, checkpoint, lambda backbone: (
        heads.build_classifier(backbone, num_labels, config.model.head_dropout,
                               config.model.pooling)))


def predict_probabilities(model, dataset):
    """(true ids, class probabilities) over a labelled dataset of one-hot labels."""
    y_true, probabilities = [], []
    for features, labels in dataset:
        logits = tf.cast(model(features, training=False), tf.float32)
        probabilities.append(tf.nn.softmax(logits).numpy())
        y_true.append(np.argmax(labels.numpy(), axis=-1))
    return np.concatenate(y_true), np.concatenate(probabilities)


TASK = ClassificationTask()
