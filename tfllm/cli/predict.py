"""`tfllm predict`: labels and probabilities for texts (entities, for a tagger; answers, for a
question answerer; targets, for a text-to-text run), one JSON object per line.

A flag the run's task does not use (--question for a classifier, --text_pair for a run
trained on single texts) is an error, as is --top_k below 1. Texts longer than the run's
sequence length are cut to fit; a line on stderr says how many were.
"""

import json

from absl import flags

from tfllm.cli import app
from tfllm.cli import checks

_WORKDIR = flags.DEFINE_string("workdir", None, "Work directory of a finished run.", required=True)
_TEXT = flags.DEFINE_multi_string("text", [], "A text to predict on; repeat for several.")
_TEXT_PAIR = flags.DEFINE_multi_string(
    "text_pair", [], "Second segment, for runs trained on text pairs; one per --text.")
_INPUT = flags.DEFINE_string(
    "input", "", "A data file (.csv/.tsv/.jsonl/.txt; SQuAD for question answering) to predict "
    "on, instead of --text.")
_TOP_K = flags.DEFINE_integer(
    "top_k", 3, "Classifiers: probabilities printed per text (the most likely).", lower_bound=1)
_QUESTION = flags.DEFINE_multi_string("question", [], "Span QA: a question; repeatable.")
_CONTEXT = flags.DEFINE_multi_string(
    "context", [], "Span QA: the context of each --question (one, or one per question).")
_FIELDS = {name: flags.DEFINE_string(name, None, f"With --input: {checks.DATA_FIELDS[name]}")
           for name in ("text_column", "text_pair_column", "source_column")}


def _check_texts(name, texts):
    for index, text in enumerate(texts, 1):
        if not text.strip():
            which = f" {index} of {len(texts)}" if len(texts) > 1 else ""
            raise app.TfllmError(f"--{name}{which} is empty; expected text")


def check_flags():
    """(run config, data fields): every flag checked that can be without the run's task."""
    config = checks.finished_run(_WORKDIR.value)
    if _INPUT.value:
        checks.input_file("--input", _INPUT.value, sources=True)
    if _INPUT.value and (_TEXT.value or _QUESTION.value):
        flag = "--text" if _TEXT.value else "--question"
        raise app.TfllmError(f"{flag} and --input: give one, not both")
    if not (_TEXT.value or _INPUT.value or _QUESTION.value or _CONTEXT.value):
        raise app.TfllmError("--text: nothing to predict; pass --text=... (repeatable) or "
                             "--input=FILE (--question and --context for question answering)")
    for name, holder in (("text", _TEXT), ("text_pair", _TEXT_PAIR), ("question", _QUESTION),
                         ("context", _CONTEXT)):
        _check_texts(name, holder.value)
    if _TEXT_PAIR.value and len(_TEXT_PAIR.value) != len(_TEXT.value):
        raise app.TfllmError(f"--text_pair given {len(_TEXT_PAIR.value)} times, --text "
                             f"{len(_TEXT.value)} times; expected one --text_pair per --text")
    if _QUESTION.value and not _CONTEXT.value:
        raise app.TfllmError("--question: needs --context, the text to find the answer in")
    if _CONTEXT.value and not _QUESTION.value:
        raise app.TfllmError("--context: needs --question, what to answer from it")
    if len(_CONTEXT.value) not in (1, len(_QUESTION.value)):
        raise app.TfllmError(f"--context given {len(_CONTEXT.value)} times, --question "
                             f"{len(_QUESTION.value)} times; expected one context, or one per "
                             "question")
    return config, checks.data_fields(_FIELDS, "input")


def main(argv):
    config, fields = check_flags()
    from tfllm.tasks import base  # pylint: disable=import-outside-toplevel
    used = checks.given("text", "text_pair", "input", "top_k", "question", "context") + [*fields]
    task = checks.task_flags("predict", _WORKDIR.value, config, used)
    predictor = task.with_data_fields(task.load(_WORKDIR.value), fields)
    request = base.PredictRequest(
        texts=_TEXT.value, text_pairs=_TEXT_PAIR.value, input=_INPUT.value,
        questions=_QUESTION.value, contexts=_CONTEXT.value, top_k=_TOP_K.value)
    with checks.reading_flags(bool(_INPUT.value)):
        for record in task.predict_records(predictor, request):
            print(json.dumps(record, ensure_ascii=False))


def run(argv):
    app.run(main, argv)
