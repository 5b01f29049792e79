"""Entity-level evaluation of tag sequences (the spans on raw text are decoded in the graph,
`tfllm.tasks.tagging.serving.entity_spans`, with the same rules).

Named-entity taggers are scored on entities, not tags: an entity counts as found
only if its type and both its boundaries match exactly. A wrong boundary is
therefore both a false positive (the predicted span) and a false negative (the
gold span), as in seqeval and the CoNLL shared-task script (conlleval).

Entities are decoded with the rules of seqeval's default (non-strict) mode,
which equal conlleval's, for BIO (IOB2) and BIOES alike:
- B-X and S-X always start an entity; S-X and E-X always end one.
- I-X and E-X continue an open entity of type X that is not yet ended; after O,
  after an entity of another type, or after E-/S-, they start a new entity
  (so "O I-PER I-PER" is one PER entity, "B-PER I-LOC" two entities).
- O and any change of type end the open entity.
We use the same lenient rules for BIOES rather than seqeval's strict mode: one
decoder for both schemes, and a malformed prediction such as "B-PER O" still
yields the entity a reader would see (strict mode drops it). IOB1 data (the
original CoNLL-2003 tags) decodes correctly under these rules too.
"""

_BEGINS = frozenset("BS")  # prefixes that always start an entity
_ENDS = frozenset("ES")  # prefixes that always end the entity they are in


def extract_entities(tags):
    """Returns the entities of one tag sequence as [(type, start, end)], end exclusive.

    >>> extract_entities(["B-PER", "I-PER", "O", "B-LOC"])
    [('PER', 0, 2), ('LOC', 3, 4)]
    """
    entities = []
    start, prev_prefix, prev_type = None, "O", ""
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, type_ = _split(tag)
        # An open entity ends before i if it was closed by E-/S-, or tag i
        # starts a new one (B-, S-, O) or changes the type.
        if start is not None and (
            prev_prefix in _ENDS or prefix in _BEGINS or prefix == "O" or type_ != prev_type
        ):
            entities.append((prev_type, start, i))
            start = None
        if prefix != "O" and (start is None or prefix in _BEGINS):
            start = i
        prev_prefix, prev_type = prefix, type_
    return entities


def _split(tag):
    """Returns (prefix, type) of "B-PER" -> ("B", "PER"); "O" -> ("O", "")."""
    if tag == "O":
        return "O", ""
    if len(tag) < 3 or tag[0] not in "BIES" or tag[1] != "-":
        raise ValueError(f"not a BIO/BIOES tag: {tag!r}")
    return tag[0], tag[2:]


def entity_scores(gold, predicted):
    """Entity precision, recall and F1 (micro over all entities, and per type).

    Args:
        gold: list of tag sequences (one list of str per sentence).
        predicted: the predicted tag sequences, the same lengths.

    Returns:
        {"precision", "recall", "f1" (micro), "macro_f1" (mean over types),
        "accuracy" (of tags), "support" (gold entities), "predicted",
        "correct", "per_type": {type: {"precision", "recall", "f1", "support"}}}.
        A score with a zero denominator is 0.0, as seqeval's default.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sequences but {len(predicted)} predicted")
    true, found, tags, right_tags = set(), set(), 0, 0
    for index, (gold_tags, predicted_tags) in enumerate(zip(gold, predicted, strict=True)):
        if len(gold_tags) != len(predicted_tags):
            raise ValueError(f"sequence {index}: {len(gold_tags)} gold tags but "
                             f"{len(predicted_tags)} predicted")
        true.update((index, *entity) for entity in extract_entities(gold_tags))
        found.update((index, *entity) for entity in extract_entities(predicted_tags))
        tags += len(gold_tags)
        right_tags += sum(g == p for g, p in zip(gold_tags, predicted_tags, strict=True))
    per_type = {}
    for type_ in sorted({entity[1] for entity in true | found}):
        true_of_type = {e for e in true if e[1] == type_}
        found_of_type = {e for e in found if e[1] == type_}
        per_type[type_] = _scores(len(true_of_type & found_of_type), len(found_of_type),
                                  len(true_of_type))
    report = _scores(len(true & found), len(found), len(true))
    f1s = [scores["f1"] for scores in per_type.values()]
    report.update({
        "macro_f1": sum(f1s) / len(f1s) if f1s else 0.0,
        "accuracy": right_tags / tags if tags else 0.0,
        "predicted": len(found),
        "correct": len(true & found),
        "per_type": per_type,
    })
    return report


def _scores(correct, predicted, support):
    precision = correct / predicted if predicted else 0.0
    recall = correct / support if support else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}

