"""The evaluation report of a tagger: entity precision/recall/F1 and the sentences it got wrong."""

from tfllm.tasks.tagging import entities

MISTAKES_LISTED = 20  # sentences with a wrong tag kept in the report, in file order


def evaluation_report(sentences, predicted, source):
    """Entity scores of `predicted` tags against the sentences' own, plus examples.

    Args:
        sentences: TaggedSentences (the gold words and tags, and their origin).
        predicted: one list of tag names per sentence, one tag per word.
        source: what was evaluated ("validation" or the file), for the report.

    Returns:
        `entities.entity_scores` (micro precision/recall/F1, macro F1, tag
        accuracy, per type), plus "split", "sentences", "words", and
        "mistakes": up to MISTAKES_LISTED sentences with a wrong tag, each
        {"origin", "words", "gold", "predicted"}.
    """
    gold = [list(s.tags) for s in sentences]
    report = entities.entity_scores(gold, predicted)
    mistakes = [{"origin": s.origin, "words": list(s.tokens), "gold": list(s.tags),
                 "predicted": list(p)}
                for s, p in zip(sentences, predicted, strict=True) if list(s.tags) != list(p)]
    return {"split": source, "sentences": len(sentences), "words": sum(len(g) for g in gold),
            **report, "mistakes": mistakes[:MISTAKES_LISTED]}
