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


def _texts(classifier):
    if _INPUT.value:
        return classifier.read_texts(_INPUT.value)
    if not _TEXT.value:
        raise app.TfllmError("nothing to predict: pass --text=... (repeatable) or --input=FILE")
    if _TEXT_PAIR.value and len(_TEXT_PAIR.value) != len(_TEXT.value):
        raise app.TfllmError(f"--text_pair given {len(_TEXT_PAIR.value)} times, --text "
                             f"{len(_TEXT.value)} times; expected one pair per text")
    return _TEXT.value, _TEXT_PAIR.value or None


def _answer(span_qa):
    """Prints {"question", "answer", "score", "start", "end"} per question (--question and
    --context, or a SQuAD file as --input)."""
    if _INPUT.value:
        questions, contexts = span_qa.read_texts(_INPUT.value)
    else:
        questions, contexts = _QUESTION.value, _CONTEXT.value
        if not questions or not contexts:
            raise app.TfllmError("nothing to answer: pass --question=... and --context=... "
                                 "(repeatable) or --input=SQUAD_FILE")
        if len(contexts) == 1:
            contexts = contexts * len(questions)
        if len(contexts) != len(questions):
            raise app.TfllmError(f"--context given {len(contexts)} times, --question "
                                 f"{len(questions)} times; expected one context, or one "
                                 "per question")
    for question, result in zip(questions, span_qa.predict(questions, contexts), strict=True):
        print(json.dumps({"question": question, **result, "score": round(result["score"], 4)},
                         ensure_ascii=False))


def main(argv):
    import tfllm  # pylint: disable=import-outside-toplevel

    classifier = tfllm.load(_WORKDIR.value)
    if classifier.config.task == "span_qa":
        _answer(classifier)
        return
    if classifier.config.task == "seq2seq":  # --text / --input are sources
        texts, _ = _texts(classifier)
        for text, target in zip(texts, classifier.generate(texts), strict=True):
            print(json.dumps({"source": text, "target": target}, ensure_ascii=False))
        return
    texts, pairs = _texts(classifier)
    if classifier.config.task == "tagging":
        if pairs:
            raise app.TfllmError("--text_pair: a tagger tags single texts; drop the flag")
        for text, spans in zip(texts, classifier.predict(texts), strict=True):
            entities = [{**span, "score": round(span["score"], 4)} for span in spans]
            print(json.dumps({"text": text, "entities": entities}, ensure_ascii=False))
        return
    for text, result in zip(texts, classifier.predict(texts, pairs)):
        top = sorted(result["probabilities"].items(), key=lambda kv: -kv[1])[:_TOP_K.value]
        print(json.dumps({"text": text, "label": result["label"], "score": round(result["score"], 4),
                          "probabilities": {k: round(v, 4) for k, v in top}}, ensure_ascii=False))


def run(argv):
    app.run(main, argv)
