"""Extractive question answering (`task: span_qa`, configs/bert_qa.py): SQuAD files to a
BERT span model over strided windows of each context.

The data is read and checked (answers in windows included) before anything is written
or any model built. Evaluation decodes the best span over all windows of each
validation question with the export's graph functions (`serving`, through
`predictor.TracedQa`) and scores it as the official SQuAD script does.
"""

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from tfllm.data import examples as examples_lib
from tfllm.data import pipeline
from tfllm.data import tokenizer as tokenizer_lib
from tfllm.errors import DataError
from tfllm.models import encoder
from tfllm.tasks import base
from tfllm.tasks.span_qa import checks
from tfllm.tasks.span_qa import examples as qa_examples
from tfllm.tasks.span_qa import head as span_head
from tfllm.tasks.span_qa import metric
from tfllm.tasks.span_qa import serving
from tfllm.tasks.span_qa.predictor import SpanQA, TracedQa
from tfllm.training import compiling
from tfllm.training import run


def training_texts(config, train):
    """The training contexts and questions a vocabulary is learned from (lower-cased and
    unaccented first when the tokenizer does that)."""
    texts = tf.constant(sorted({e.context for e in train}) + [e.question for e in train])
    if config.tokenizer.lowercase:  # as keras-hub's tokenizer normalizes before WordPiece
        texts = tf_text.case_fold_utf8(
            tf.strings.regex_replace(tf_text.normalize_utf8(texts, "NFD"), r"\p{Mn}", ""))
    return [t.decode("utf-8") for t in texts.numpy()]


def resolve(config, vocabulary_size, train, checkpoint=None):
    """`encoder.resolve`, and data.allow_no_answer decided: 'auto' becomes 'yes' when the
    training questions include unanswerable ones."""
    resolved = encoder.resolve(config, vocabulary_size, checkpoint)
    if resolved.data.allow_no_answer == "auto":
        resolved.data.allow_no_answer = "yes" if any(e.is_impossible for e in train) else "no"
    return resolved


def labelled_examples(windows):
    """The unbatched (model features, (start, end)) dataset of QaWindows."""
    positions = np.stack([windows.start_positions, windows.end_positions], axis=1)
    return tf.data.Dataset.from_tensor_slices((windows.features(), positions))


class SpanQaTask(base.Task):
    """The answer span of a question in its context: AdamW on start/end cross-entropy,
    start/end accuracy picks the best epoch; SQuAD exact match and F1 on validation."""

    name = "span_qa"
    head = ("span_logits",)  # the new per-token layer: trained in full under LoRA

    predictor = SpanQA
    export_parts = staticmethod(serving.export_parts)
    command_flags = checks.COMMAND_FLAGS

    def check_config(self, config):
        checks.check_config(config)

    def prepare(self, config, paths):
        read_data = qa_examples.read(config.data)
        checkpoint = encoder.read_checkpoint(config)
        vocabulary = encoder.choose_vocabulary(config, paths, checkpoint,
                                               lambda: training_texts(config, read_data[0]))
        resolved = resolve(config, len(vocabulary), read_data[0], checkpoint)
        tokenizer = tokenizer_lib.build_tokenizer(vocabulary, resolved.tokenizer.lowercase)
        data, train_windows, validation_windows = qa_examples.prepare(read_data, config.data,
                                                                      tokenizer)
        print(examples_lib.describe(data.report), flush=True)
        if len(train_windows.token_ids) < config.data.batch_size:
            raise DataError(
                f"{config.data.train}: {len(train_windows.token_ids)} training windows is "
                f"less than one batch (--config.data.batch_size={config.data.batch_size})")
        run.save_prepared(paths, resolved, data.report, vocabulary)
        return base.Prepared(resolved, (data, train_windows, validation_windows), vocabulary,
                             checkpoint)

    def datasets(self, prepared):
        config = prepared.config
        _, train_windows, validation_windows = prepared.data
        train_examples = labelled_examples(train_windows)

        def stream(start_batch):
            return pipeline.batches(train_examples, config.data, training=True,
                                    seed=config.seed, start_batch=start_batch)

        val_ds = pipeline.batches(labelled_examples(validation_windows), config.data,
                                  training=False)
        return base.Datasets(stream, val_ds,
                             run.steps_per_epoch(config, len(train_windows.token_ids)),
                             float(np.mean(train_windows.padding_mask.sum(axis=1))))

    def build_model(self, prepared):
        config = prepared.config
        return encoder.build(config, len(prepared.tokenizer), prepared.checkpoint,
                             lambda backbone: span_head.build_span_model(
                                 backbone, config.model.head_dropout))

    def compile_model(self, model, config, steps_per_epoch):
        compiling.compile_encoder_model(model, config, steps_per_epoch, loss=span_head.SpanLoss(),
                                        metrics=[span_head.SpanAccuracy(name="accuracy")])

    def evaluate(self, model, prepared, datasets):
        config, data = prepared.config, prepared.data[0]
        # The export's graph functions, as SpanQA.evaluate runs them; the labelled windows
        # (datasets.validation) are for the loss and accuracy only.
        tokenizer = tokenizer_lib.build_tokenizer(prepared.tokenizer, config.tokenizer.lowercase)
        answers = TracedQa(model, tokenizer, config.data).answers(data.validation)
        return metric.evaluation_report(data.validation, answers, "validation")

    def summary(self, report):
        return (f"validation exact match {report['exact']:.1f}, F1 {report['f1']:.1f} on "
                f"{report['questions']} questions in {base.minutes(report)}")

    def next_commands(self, workdir, export_dir):
        return [f"tfllm evaluate --workdir={workdir}",
                f"tfllm predict --workdir={workdir} --question='Where was Zoë born?' "
                "--context='Zoë Kim was born in São Paulo.'",
                f"tfllm export --workdir={workdir} --export_dir={export_dir}"]

    def print_report(self, report):
        scores = "  ".join(f"{name} {report[name]:.2f}" for name in (
            "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1") if name in report)
        print(f"{report['split']}: exact match {report['exact']:.2f}  F1 {report['f1']:.2f}  "
              f"on {report['questions']} questions ({report['unanswerable']} unanswerable)  "
              f"{scores}")

    def predict_records(self, predictor, request):
        """{"question", "answer", "score", "start", "end"} per question (--question and
        --context, or a SQuAD file as --input)."""
        if request.input:
            questions, contexts = predictor.read_texts(request.input)
        else:
            questions, contexts = request.questions, request.contexts
            if not questions or not contexts:
                raise DataError("nothing to answer: pass --question=... and --context=... "
                                "(repeatable) or --input=SQUAD_FILE")
            if len(contexts) == 1:
                contexts = contexts * len(questions)
            if len(contexts) != len(questions):
                raise DataError(f"--context given {len(contexts)} times, --question "
                                f"{len(questions)} times; expected one context, or one "
                                "per question")
        note = base.cut_note(count_cut(predictor, questions), len(questions),
                             predictor.config.data.max_query_length, what="questions",
                             field="data.max_query_length")
        if note:
            base.progress(note)
        for question, result in zip(questions, predictor.predict(questions, contexts),
                                    strict=True):
            yield {"question": question, **result, "score": round(result["score"], 4)}


def count_cut(qa, questions, batch_size=256):
    """How many of `questions` have more word pieces than data.max_query_length, the part
    of each window they may take (contexts are read in windows, whole)."""
    cut = 0
    for start in range(0, len(questions), batch_size):
        pieces = qa.tokenizer(tf.constant(questions[start:start + batch_size], tf.string))
        cut += sum(int(n) > qa.config.data.max_query_length for n in base.lengths(pieces))
    return cut


TASK = SpanQaTask()
