"""`tfllm predict`: labels and probabilities for texts (entities, for a tagger), one JSON
object per line."""

import json

from absl import flags

from tfllm.cli import app

_WORKDIR = flags.DEFINE_string("workdir", None, "Work directory of a finished run.", required=True)
_TEXT = flags.DEFINE_multi_string("text", [], "A text to classify; repeat for several.")
_TEXT_PAIR = flags.DEFINE_multi_string(
    "text_pair", [], "Second segment for pair tasks; one per --text.")
_INPUT = flags.DEFINE_string(
    "input", "", "A data file (.csv/.tsv/.jsonl/.txt) whose texts to classify, instead of --text.")
_TOP_K = flags.DEFINE_integer("top_k", 3, "Probabilities printed per text (the most likely).")
_QUESTION = flags.DEFINE_multi_string("question", [], "Span QA: a question; repeatable.")
_CONTEXT = flags.DEFINE_multi_string(
    "context", [], "Span QA: the context of each --question (one, or one per question).")


def main(argv):
    from tfllm.tasks import base, registry  # pylint: disable=import-outside-toplevel
    task = registry.task_for_workdir(_WORKDIR.value)
    predictor = task.load(_WORKDIR.value)
    request = base.PredictRequest(
        texts=_TEXT.value, text_pairs=_TEXT_PAIR.value, input=_INPUT.value,
        questions=_QUESTION.value, contexts=_CONTEXT.value, top_k=_TOP_K.value)
    for record in task.predict_records(predictor, request):
        print(json.dumps(record, ensure_ascii=False))


def run(argv):
    app.run(main, argv)
