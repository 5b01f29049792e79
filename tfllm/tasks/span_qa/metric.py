"""SQuAD exact match and F1, computed as the official v1.1 and v2.0 evaluation scripts do.

Answers are compared after `normalize_answer` (lower case, no punctuation, no
articles a/an/the, single spaces). Exact match is 1 when the normalized texts
are equal; F1 is over the bag of normalized tokens. Each question takes its best
score over its gold answers, and the totals are percentages.

The two scripts differ only where a text normalizes to nothing, and both rules
are kept: v2.0 drops gold answers that normalize to "" (an unanswerable
question's only gold answer is "") and gives F1 1 when both sides are empty;
v1.1 keeps every gold answer and gives F1 0 without a common token. v2.0 also
reports HasAns_* and NoAns_* subtotals. A missing prediction is an error here
(the scripts score or skip it silently).
"""

import collections
import re
import string

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text):
    """Lower case, drop punctuation, drop articles, single spaces: the scripts' steps in order."""
    text = "".join(c for c in text.lower() if c not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction, gold):
    """1 when the normalized texts are equal, else 0."""
    return int(normalize_answer(prediction) == normalize_answer(gold))


def f1(prediction, gold, version="2.0"):
    """Token-level F1 of the normalized texts; see the module docstring for empty texts."""
    predicted, golden = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if version == "2.0" and (not predicted or not golden):
        return float(predicted == golden)
    common = sum((collections.Counter(predicted) & collections.Counter(golden)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(golden)
    return 2 * precision * recall / (precision + recall)


def squad_scores(examples, predictions, version=None):
    """Returns {"exact", "f1", "total"} (percentages), plus HasAns_*/NoAns_* for v2.0.

    Args:
        examples: QaExamples (anything with `id`, `answers` as (text, start) pairs
            and `is_impossible`).
        predictions: {question id: predicted text}; "" predicts "no answer".
        version: "1.1" or "2.0"; None picks "2.0" when any question is unanswerable.

    Raises:
        ValueError: a question has no prediction.
    """
    examples = list(examples)
    if version is None:
        version = "2.0" if any(e.is_impossible for e in examples) else "1.1"
    if version not in ("1.1", "2.0"):
        raise ValueError(f"version must be '1.1' or '2.0', got {version!r}")
    missing = [e.id for e in examples if e.id not in predictions]
    if missing:
        raise ValueError(f"no prediction for {len(missing)} questions: {missing[:5]}")
    scores = {True: [], False: []}  # has an answer -> [(exact, f1)]
    for example in examples:
        golds = [text for text, _ in example.answers]
        if version == "2.0":
            golds = [text for text in golds if normalize_answer(text)] or [""]
        prediction = predictions[example.id]
        scores[bool(example.answers)].append(  # the v2.0 script's HasAns split
            (max(exact_match(prediction, g) for g in golds),
             max(f1(prediction, g, version) for g in golds)))
    report = _percentages(scores[True] + scores[False])
    if version == "2.0":
        for name, has_answer in (("HasAns", True), ("NoAns", False)):
            if scores[has_answer]:
                report.update({f"{name}_{key}": value
                               for key, value in _percentages(scores[has_answer]).items()})
    return report


def _percentages(pairs):
    total = len(pairs)
    return {"exact": 100.0 * sum(e for e, _ in pairs) / total if total else 0.0,
            "f1": 100.0 * sum(f for _, f in pairs) / total if total else 0.0,
            "total": total}


MISTAKES_LISTED = 20  # wrong answers kept in the report


def evaluation_report(examples, answers, split):
    """Official SQuAD exact match and F1 (HasAns/NoAns for v2.0) of decoded answers, with
    the first wrong ones."""
    predictions = {e.id: a.text for e, a in zip(examples, answers, strict=True)}
    scores = squad_scores(examples, predictions)
    mistakes = [{"id": e.id, "question": e.question, "prediction": a.text,
                 "answers": [text for text, _ in e.answers]}
                for e, a in zip(examples, answers, strict=True)
                if not any(exact_match(a.text, g) for g in
                           ([t for t, _ in e.answers] or [""]))]
    return {**scores, "split": split, "questions": len(examples),
            "unanswerable": sum(e.is_impossible for e in examples),
            "mistakes": mistakes[:MISTAKES_LISTED]}
