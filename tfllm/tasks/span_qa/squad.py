"""Reads extractive question-answering data (SQuAD v1.1/v2.0 JSON or JSON Lines) into QaExamples.

Two layouts, told apart by content rather than by suffix (Hugging Face's
`to_json` writes JSON Lines under a .json name, and the official SQuAD files
are one long line):
- SQuAD JSON: {"data": [{"paragraphs": [{"context", "qas": [{"id", "question",
  "answers": [{"text", "answer_start"}], "is_impossible"}]}]}]}; v1.1 has no
  `is_impossible`. Origins name the JSON path: "path:data[3].paragraphs[1].qas[0]".
- JSON Lines, one question per line in the Hugging Face `squad` layout:
  {"id", "question", "context", "answers": {"text": [...], "answer_start": [...]}}.
  Without an `is_impossible` key, an empty answer list means unanswerable
  (as in `squad_v2`). Origins are "path:line".

Like `sources`, the reader never drops a question: a bad one comes back with
`problem` set (missing fields, undecodable bytes, duplicate ids, and above all
an answer that is not where `answer_start` says, which would otherwise train the
model on the wrong span), so `examples.check_bad_rows` can count and report
them. A file that is not QA data at all raises DataError.
"""

import dataclasses
import json
import os
import re

from tfllm.data.sources import UNDECODABLE
from tfllm.errors import DataError

_BOM = "\ufeff"
# Undecodable bytes come back from "surrogateescape" as lone surrogates (as do
# JSON escapes of lone surrogates); neither is text.
_SURROGATE = re.compile("[\ud800-\udfff]")
_EXPECTED = (
    "expected SQuAD JSON ({'data': [{'paragraphs': [{'context', 'qas'}]}]}) or JSON Lines "
    "with one {'id', 'question', 'context', 'answers'} object per line"
)


@dataclasses.dataclass(frozen=True)
class QaExample:
    """One question about one context, as read from a file.

    Args:
        id: the question id that predictions and the metric are keyed by.
        question: the question text.
        context: the passage the answer is a span of, exactly as in the file.
        answers: ((text, char_start), ...): gold answers, `char_start` a Python
            str index into `context`; empty for an unanswerable question.
        is_impossible: True when the context does not answer the question (v2.0).
        origin: "path:data[i].paragraphs[j].qas[k]" or "path:line".
        problem: empty for a usable example, else why it is bad.
    """

    id: str
    question: str
    context: str
    answers: tuple = ()
    is_impossible: bool = False
    origin: str = ""
    problem: str = ""


def read_squad(path):
    """Returns the list[QaExample] of a SQuAD JSON or JSON Lines file, bad ones marked.

    Raises:
        DataError: the file is missing, is not JSON, or has neither layout.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"QA data file not found: {path}")
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", "surrogateescape").removeprefix(_BOM)
    first = next((line for line in text.split("\n") if line.strip()), "")
    try:
        head = json.loads(first)
    except json.JSONDecodeError:
        head = None  # the first line is not a whole document: pretty-printed JSON
    if isinstance(head, dict) and "data" not in head:
        examples = _read_lines(path, text)
    else:
        examples = _read_nested(path, text)
    return _mark_duplicate_ids(examples)


def _read_nested(path, text):
    """Reads the official SQuAD layout: data -> paragraphs -> qas."""
    try:
        root = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"{path}:{err.lineno}: invalid JSON ({err.msg}, column "
                        f"{err.colno}); {_EXPECTED}") from err
    data = root.get("data") if isinstance(root, dict) else None
    if not isinstance(data, list):
        raise DataError(f"{path}: no 'data' list; {_EXPECTED}")
    examples = []
    for i, article in enumerate(data):
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            problem = "expected an object with a 'paragraphs' list"
            examples.append(_bad(f"{path}:data[{i}]", problem))
            continue
        for j, paragraph in enumerate(paragraphs):
            where = f"{path}:data[{i}].paragraphs[{j}]"
            qas = paragraph.get("qas") if isinstance(paragraph, dict) else None
            if not isinstance(qas, list):
                examples.append(_bad(where, "expected an object with 'context' and a 'qas' list"))
                continue
            for k, qa in enumerate(qas):
                if not isinstance(qa, dict):
                    examples.append(_bad(f"{where}.qas[{k}]", "expected an object"))
                    continue
                examples.append(_example(f"{where}.qas[{k}]", qa, paragraph.get("context"),
                                         qa.get("is_impossible", False)))
    return examples


def _read_lines(path, text):
    """Reads JSON Lines in the Hugging Face `squad` layout; blank lines are skipped."""
    examples = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        origin = f"{path}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            examples.append(_bad(origin, f"invalid JSON: {err.msg} (column {err.colno})"))
            continue
        if not isinstance(obj, dict):
            examples.append(_bad(origin, f"expected an object, found {type(obj).__name__}"))
            continue
        answers, _ = _answers(obj.get("answers"))
        examples.append(_example(origin, obj, obj.get("context"),
                                 obj.get("is_impossible", not answers)))
    return examples


def _answers(value):
    """Returns ([(text, start), ...], problem) from either answer layout."""
    if value is None:
        return [], ""
    if isinstance(value, dict):  # Hugging Face: {"text": [...], "answer_start": [...]}
        texts, starts = value.get("text"), value.get("answer_start")
        if not isinstance(texts, list) or not isinstance(starts, list) or len(texts) != len(
                starts):
            return [], "answers: expected lists 'text' and 'answer_start' of equal length"
        return list(zip(texts, starts, strict=True)), ""
    if isinstance(value, list) and all(isinstance(a, dict) for a in value):
        return [(a.get("text"), a.get("answer_start")) for a in value], ""
    return [], "answers: expected a list of {'text', 'answer_start'} objects"


def _example(origin, obj, context, is_impossible):
    """Builds the QaExample of one question object, with the first problem found."""
    answers, problem = _answers(obj.get("answers"))
    qid, question = obj.get("id"), obj.get("question")
    if isinstance(qid, int) and not isinstance(qid, bool):
        qid = str(qid)
    problem = problem or _problem(qid, question, context, answers, is_impossible)
    strings = [qid, question, context] + [text for text, _ in answers]
    if any(isinstance(s, str) and _SURROGATE.search(s) for s in strings):
        problem = problem or UNDECODABLE
        qid, question, context = (_clean(s) for s in (qid, question, context))
        answers = [(_clean(text), start) for text, start in answers]
    return QaExample(
        id=qid if isinstance(qid, str) else None,
        question=question if isinstance(question, str) else None,
        context=context if isinstance(context, str) else None,
        answers=tuple(answers),
        is_impossible=is_impossible if isinstance(is_impossible, bool) else False,
        origin=origin,
        problem=problem,
    )


def _problem(qid, question, context, answers, is_impossible):
    """Why a question cannot be used, or ""; checks that each answer is where it says."""
    for name, value in (("id", qid), ("question", question), ("context", context)):
        if not isinstance(value, str) or not value.strip():
            return f"missing {name} (expected a non-empty string, found {value!r:.40})"
    if not isinstance(is_impossible, bool):
        return f"is_impossible: expected true or false, found {is_impossible!r:.40}"
    if is_impossible and answers:
        return "is_impossible is true but answers are given"
    if not is_impossible and not answers:
        return "no answers (expected at least one, or is_impossible: true)"
    for n, (text, start) in enumerate(answers):
        if not isinstance(text, str) or not text.strip():
            return f"answers[{n}]: missing answer text"
        if not isinstance(start, int) or isinstance(start, bool) or start < 0:
            return f"answers[{n}]: answer_start must be a non-negative integer, found {start!r}"
        found = context[start:start + len(text)]
        if found != text:
            at = context.find(text)
            hint = f"; the text first occurs at {at}" if at >= 0 else "; it is not in the context"
            return (f"answers[{n}]: text {text!r:.80} is not at answer_start {start}: the "
                    f"context has {found!r:.80} there{hint}")
    return ""


def _clean(value):
    """Replaces undecodable bytes (lone surrogates) by U+FFFD, keeping lengths."""
    return _SURROGATE.sub("\ufffd", value) if isinstance(value, str) else value


def _bad(origin, problem):
    return QaExample(id=None, question=None, context=None, origin=origin, problem=problem)


def _mark_duplicate_ids(examples):
    """Marks every later question with an id seen before: predictions are keyed by id."""
    first, marked = {}, []
    for example in examples:
        if example.id is not None and not example.problem:
            if example.id in first:
                problem = f"duplicate id {example.id!r} (first at {first[example.id]})"
                example = dataclasses.replace(example, problem=problem)
            else:
                first[example.id] = example.origin
        marked.append(example)
    return marked
