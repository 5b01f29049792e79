"""train_and_evaluate for extractive question answering (`task: span_qa`): SQuAD files to a
work directory with a BERT span model.

Same order and guarantees as the classification run (`tfllm.training.loop`,
whose runtime, checkpoint reading, config resolution, callbacks, backups and
saving it calls): config checked, data read and checked (answers in windows
included) before anything is written or any model built; the same optimizer,
metrics log, backups and resume. Evaluation decodes the best span over all
windows of each validation question and scores it as the official SQuAD
script does.
"""

import os

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from tfllm import config as config_lib
from tfllm.tasks.span_qa import decoding as qa_decoding
from tfllm.data import examples as examples_lib
from tfllm.data import pipeline
from tfllm.tasks.span_qa import examples as qa_examples
from tfllm.data import tokenizer as tokenizer_lib
from tfllm.errors import DataError
from tfllm.tasks.span_qa import metric as squad_metric
from tfllm.models import bert
from tfllm.models import pretrained
from tfllm.tasks.span_qa import head as span_head
from tfllm.training import loop
from tfllm.training import optimizers

HEAD = ("span_logits",)  # the new per-token layer: trained in full under LoRA
MODEL_FEATURES = ("token_ids", "segment_ids", "padding_mask")
MISTAKES_LISTED = 20


def vocabulary_for(config, train, paths, checkpoint=None):
    """The work directory's vocabulary (a resumed run), the checkpoint's, the config's, or
    one learned from the training contexts and questions (lower-cased and unaccented first
    when the tokenizer does that)."""
    if os.path.exists(paths.vocabulary):
        return tokenizer_lib.load_vocabulary(paths.vocabulary)
    if checkpoint is not None:
        return checkpoint.vocabulary
    if config.tokenizer.vocabulary:
        return tokenizer_lib.load_vocabulary(config.tokenizer.vocabulary)
    texts = tf.constant(sorted({e.context for e in train}) + [e.question for e in train])
    if config.tokenizer.lowercase:  # as keras-hub's tokenizer normalizes before WordPiece
        texts = tf_text.case_fold_utf8(
            tf.strings.regex_replace(tf_text.normalize_utf8(texts, "NFD"), r"\p{Mn}", ""))
    return tokenizer_lib.learn_vocabulary([t.decode("utf-8") for t in texts.numpy()],
                                          config.tokenizer.vocabulary_size,
                                          config.tokenizer.min_frequency)


def resolve(config, vocabulary_size, train, checkpoint=None):
    """`loop.resolve`, and data.allow_no_answer decided: 'auto' becomes 'yes' when the
    training questions include unanswerable ones."""
    resolved = loop.resolve(config, vocabulary_size, checkpoint)
    if resolved.data.allow_no_answer == "auto":
        resolved.data.allow_no_answer = "yes" if any(e.is_impossible for e in train) else "no"
    return resolved


def null_threshold(config):
    """The decoding threshold of a resolved config: None (always answer) or a float."""
    return config.data.null_threshold if config.data.allow_no_answer == "yes" else None


def prepare_workdir(config, paths):
    """Reads and checks the data, then writes tokenizer files, resolved config and data report.

    Nothing is written before every check has passed.

    Returns:
        (QaData, training windows, validation windows, vocabulary, resolved config,
        pretrained checkpoint or None).
    """
    read_data = qa_examples.read(config.data)
    checkpoint = loop.read_checkpoint(config)
    vocabulary = vocabulary_for(config, read_data[0], paths, checkpoint)
    resolved = resolve(config, len(vocabulary), read_data[0], checkpoint)
    tokenizer = tokenizer_lib.build_tokenizer(vocabulary, resolved.tokenizer.lowercase)
    data, train_windows, validation_windows = qa_examples.prepare(read_data, config.data,
                                                                  tokenizer)
    print(examples_lib.describe(data.report), flush=True)
    if len(train_windows.token_ids) < config.data.batch_size:
        raise DataError(
            f"{config.data.train}: {len(train_windows.token_ids)} training windows is less "
            f"than one batch (--config.data.batch_size={config.data.batch_size})")
    paths.make_dirs()
    tokenizer_lib.save_vocabulary(vocabulary, paths.vocabulary)
    config_lib.save(resolved, paths.config)
    loop.write_json(paths.data_report, data.report)
    return data, train_windows, validation_windows, vocabulary, resolved, checkpoint


def build_model(config, vocabulary_size, checkpoint=None):
    """The span model a (resolved) config describes, uncompiled.

    Returns:
        (model, WeightReport of the pretrained import or None).
    """
    if checkpoint is None:
        kwargs = bert.backbone_kwargs(config.model, vocabulary_size, config.data.max_seq_length)
        return span_head.build_span_model(bert.build_backbone(kwargs),
                                          config.model.head_dropout), None
    backbone, report = pretrained.load_bert_backbone(
        checkpoint, config.model.backbone.dropout, unsafe=config.model.init_unsafe)
    model = span_head.build_span_model(backbone, config.model.head_dropout)
    return model, report.with_new_weights(model.weights, backbone.weights)


def compile_model(model, config, steps_per_epoch):
    """Compiles with AdamW, start/end cross-entropy and start/end accuracy."""
    bert.add_l2(model, config.train.l2)
    model.compile(
        optimizer=optimizers.build_optimizer(config.train, steps_per_epoch),
        loss=span_head.SpanLoss(),
        metrics=[span_head.SpanAccuracy(name="accuracy")],
        jit_compile=config.runtime.jit_compile,
    )


def labelled_examples(windows):
    """The unbatched (model features, (start, end)) dataset of QaWindows."""
    positions = np.stack([windows.start_positions, windows.end_positions], axis=1)
    return tf.data.Dataset.from_tensor_slices((windows.features(), positions))


def fit(config, paths, train_windows, validation_windows, vocabulary_size, checkpoint,
        strategy, resume):
    """Builds and compiles the model under `strategy`, trains it from `resume` (a backup, or
    None); returns the model."""
    data = config.data
    train_examples = labelled_examples(train_windows)

    def stream(start_batch):
        return pipeline.batches(train_examples, data, training=True, seed=config.seed,
                                start_batch=start_batch)

    val_ds = pipeline.batches(labelled_examples(validation_windows), data, training=False)
    tokens_per_example = float(np.mean(train_windows.padding_mask.sum(axis=1)))
    full_epoch = len(train_windows.token_ids) // data.batch_size
    steps_per_epoch = min(config.train.steps_per_epoch or full_epoch, full_epoch)

    return loop.train_model(
        config, paths, strategy, resume,
        build=lambda: build_model(config, vocabulary_size, checkpoint),
        recompile=lambda model: compile_model(model, config, steps_per_epoch), head=HEAD,
        stream=stream, val_ds=val_ds, tokens_per_example=tokens_per_example,
        steps_per_epoch=steps_per_epoch)


def window_logits(model, windows, batch_size=64):
    """(start logits, end logits) of every window, each (windows, sequence_length) float32."""
    features = windows.features()
    chunks = []
    for begin in range(0, len(windows.token_ids), batch_size):
        batch = {key: features[key][begin:begin + batch_size] for key in MODEL_FEATURES}
        chunks.append(tf.cast(model(batch, training=False), tf.float32).numpy())
    logits = np.concatenate(chunks)
    return logits[:, :, 0], logits[:, :, 1]


def decode(model, windows, examples, config):
    """The qa_decoding.Answer of each example from the model's logits on its windows."""
    start_logits, end_logits = window_logits(model, windows)
    return qa_decoding.decode_answers(
        start_logits, end_logits, windows.offsets, windows.example_index,
        [e.context for e in examples], n_best=config.data.n_best,
        max_answer_length=config.data.max_answer_length, null_threshold=null_threshold(config))


def evaluation_report(examples, answers, split):
    """Official SQuAD exact match and F1 (HasAns/NoAns for v2.0) of decoded answers, with
    the first wrong ones."""
    predictions = {e.id: a.text for e, a in zip(examples, answers, strict=True)}
    scores = squad_metric.squad_scores(examples, predictions)
    mistakes = [{"id": e.id, "question": e.question, "prediction": a.text,
                 "answers": [text for text, _ in e.answers]}
                for e, a in zip(examples, answers, strict=True)
                if not any(squad_metric.exact_match(a.text, g) for g in
                           ([t for t, _ in e.answers] or [""]))]
    return {**scores, "split": split, "questions": len(examples),
            "unanswerable": sum(e.is_impossible for e in examples),
            "mistakes": mistakes[:MISTAKES_LISTED]}


def train_and_evaluate(config, workdir):
    """Trains the span model `config` describes; writes everything into `workdir`.

    Started again with the same arguments after a crash or a kill, it resumes
    from the last backup in `workdir/backup/` (see `tfllm.training.backup`).

    Returns:
        The validation report (`evaluation_report`: SQuAD exact match and F1 as
        percentages), plus wall time and the work directory.
    """
    def train_then_evaluate(paths, strategy, resume):
        data, train_windows, validation_windows, vocabulary, resolved, checkpoint = (
            prepare_workdir(config, paths))
        with loop.runtime(resolved):
            model = fit(resolved, paths, train_windows, validation_windows, len(vocabulary),
                        checkpoint, strategy, resume)
            loop.save_model(model, paths)
            answers = decode(model, validation_windows, data.validation, resolved)
        return evaluation_report(data.validation, answers, "validation")

    return loop.run_in_workdir(config, workdir, train_then_evaluate)
