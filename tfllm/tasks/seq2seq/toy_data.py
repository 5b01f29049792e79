"""Toy source/target pairs for the seq2seq task: made-up translation and summarization.

- translation: numbers written with the number words of one made-up language
  ("lu mi ze") and of another ("dor fip pav"), word for word;
- summarization: a longer sentence around a key phrase ("after the rain the
  quiet red fox walked home slowly") and the phrase itself ("red fox").

    python -m tfllm.tasks.seq2seq.toy_data toy_translation.tsv --kind=translation --pairs=200
    python -m tfllm.tasks.seq2seq.toy_data toy_summaries.jsonl --kind=summarization

A .jsonl path gets JSON Lines ({"source": ..., "target": ...}); anything else a TSV with a
`source` and a `target` column.
"""

import csv
import json
import random
import sys

KINDS = ("translation", "summarization")
# Number words 0-9 of two made-up languages.
SOURCE_DIGITS = ["ka", "lu", "mi", "no", "pe", "ri", "su", "ta", "vo", "ze"]
TARGET_DIGITS = ["bam", "dor", "fip", "gul", "hon", "jex", "kib", "lom", "nuq", "pav"]
OPENERS = ["after the rain", "early in the morning", "late at night", "during the storm",
           "on a sunny day", "before the market opened"]
ADJECTIVES = ["red", "quiet", "small", "old", "brave", "lazy"]
NOUNS = ["fox", "baker", "ship", "robot", "garden", "teacher"]
ENDINGS = ["walked home slowly", "was seen by everyone", "made a lot of noise",
           "stayed near the river"]


def translation_pairs(count, seed=0):
    """`count` distinct (source, target) numbers of 2-4 digits, word for word."""
    rng, seen, pairs = random.Random(seed), set(), []
    while len(pairs) < count:
        digits = tuple(rng.randrange(10) for _ in range(rng.randint(2, 4)))
        if digits not in seen:
            seen.add(digits)
            pairs.append((" ".join(SOURCE_DIGITS[d] for d in digits),
                          " ".join(TARGET_DIGITS[d] for d in digits)))
    return pairs


def summarization_pairs(count, seed=0):
    """`count` distinct (sentence, key phrase) pairs; the phrase is an adjective and a noun."""
    rng, seen, pairs = random.Random(seed), set(), []
    limit = len(OPENERS) * len(ADJECTIVES) * len(NOUNS) * len(ENDINGS)
    while len(pairs) < min(count, limit):
        opener, adjective, noun, ending = (rng.choice(OPENERS), rng.choice(ADJECTIVES),
                                           rng.choice(NOUNS), rng.choice(ENDINGS))
        source = f"{opener} the {adjective} {noun} {ending}"
        if source not in seen:
            seen.add(source)
            pairs.append((source, f"{adjective} {noun}"))
    return pairs


def pairs_of(kind, count, seed=0):
    """The toy pairs of `kind` (one of KINDS)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
    return (translation_pairs if kind == "translation" else summarization_pairs)(count, seed)


def write_pairs(path, pairs, source_column="source", target_column="target"):
    """Writes pairs as JSON Lines (a .jsonl path) or a TSV with a header; returns the path."""
    path = str(path)
    with open(path, "w", encoding="utf-8", newline="") as f:
        if path.endswith(".jsonl"):
            for source, target in pairs:
                f.write(json.dumps({source_column: source, target_column: target},
                                   ensure_ascii=False) + "\n")
        else:
            writer = csv.writer(f, delimiter="\t", lineterminator="\n")
            writer.writerows([(source_column, target_column), *pairs])
    return path


def write(path, kind, count, seed=0):
    """Writes `count` toy pairs of `kind` to `path`; returns the path."""
    return write_pairs(path, pairs_of(kind, count, seed))


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    flags = dict(a[2:].split("=", 1) for a in argv[1:] if a.startswith("--") and "=" in a)
    if len(args) != 1 or set(flags) - {"kind", "pairs", "seed"}:
        print(f"usage: python -m tfllm.tasks.seq2seq.toy_data FILE [--kind={'|'.join(KINDS)}] "
              "[--pairs=N] [--seed=S]", file=sys.stderr)
        return 2
    path = write(args[0], flags.get("kind", "translation"), int(flags.get("pairs", 200)),
                 int(flags.get("seed", 0)))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
