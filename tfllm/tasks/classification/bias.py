"""Counterfactual bias probe: swap paired terms in texts and see whether predictions move.

For each pair (he/she, Greg/Jamal, ...) every text containing either term
is rewritten with the terms exchanged (whole words, case kept) and both
versions are classified. A classifier that ignores the terms gives the same
answer; one that leans on them flips labels or shifts probability. The
report counts flips and probability shifts per pair and overall, and
flags pairs above a threshold.
"""

import dataclasses
import importlib.resources
import re

import numpy as np

from tfllm.errors import DataError

DEFAULT_PAIRS = "bias_pairs.tsv"


@dataclasses.dataclass(frozen=True)
class Pair:
    first: str
    second: str
    group: str = ""

    @property
    def name(self):
        return f"{self.first}/{self.second}"


def read_pairs(path=""):
    """Pairs from a tab- or comma-separated file (term, term[, group]; # comments), or the
    shipped default list; DataError naming the file and line otherwise."""
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as error:
            raise DataError(f"--pairs: cannot read {path}: {error.strerror}") from error
        where = path
    else:
        lines = (importlib.resources.files("tfllm.tasks.classification") / DEFAULT_PAIRS).read_text(
            encoding="utf-8").splitlines()
        where = DEFAULT_PAIRS
    pairs = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in re.split(r"\t|,", line)]
        if len(fields) < 2 or not fields[0] or not fields[1] or fields[0].lower() == \
                fields[1].lower():
            raise DataError(f"{where}:{number}: expected two different terms separated by a "
                            f"tab or comma, got {line!r}")
        pairs.append(Pair(fields[0], fields[1], fields[2] if len(fields) > 2 else ""))
    if not pairs:
        raise DataError(f"{where}: no term pairs")
    return pairs


def _with_case_of(word, replacement):
    if word.isupper() and len(word) > 1:
        return replacement.upper()
    if word[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def swap(text, pair):
    """`text` with the pair's terms exchanged (whole words, any case, capitalisation kept);
    None if it contains neither."""
    swapped = {pair.first.lower(): pair.second, pair.second.lower(): pair.first}
    pattern = re.compile(r"\b(" + "|".join(re.escape(t) for t in swapped) + r")\b",
                         re.IGNORECASE)
    if not pattern.search(text):
        return None
    return pattern.sub(lambda m: _with_case_of(m.group(0), swapped[m.group(0).lower()]), text)


def probe(classify, texts, pairs, flip_threshold=0.05, shift_threshold=0.05, examples=3):
    """Runs the probe.

    Args:
        classify: texts -> class probabilities, shape (len(texts), labels).
        texts: the texts to rewrite (evaluation texts, ideally).
        pairs: `Pair`s.
        flip_threshold, shift_threshold: a pair is flagged when its flip rate
            or its mean probability shift exceeds these.
        examples: the largest shifts kept per pair, to read.

    Returns:
        {"overall": {...}, "pairs": [{pair, group, texts, flips, flip_rate,
        mean_shift, max_shift, flagged, examples}], "flagged": [pair names]}.
        A shift is the absolute change in the probability of the label
        predicted for the original text.
    """
    rows, all_flips, all_shifts = [], [], []
    for pair in pairs:
        originals, rewritten = [], []
        for text in texts:
            other = swap(text, pair)
            if other is not None and other != text:
                originals.append(text)
                rewritten.append(other)
        row = {"pair": pair.name, "group": pair.group, "texts": len(originals)}
        if originals:
            before, after = classify(originals), classify(rewritten)
            predicted = before.argmax(axis=-1)
            index = np.arange(len(originals))
            flips = predicted != after.argmax(axis=-1)
            shifts = np.abs(before[index, predicted] - after[index, predicted])
            order = np.argsort(-shifts)[:examples]
            row.update(flips=int(flips.sum()), flip_rate=float(flips.mean()),
                       mean_shift=float(shifts.mean()), max_shift=float(shifts.max()),
                       examples=[{"text": originals[i], "swapped": rewritten[i],
                                  "shift": float(shifts[i]), "flipped": bool(flips[i])}
                                 for i in order])
            row["flagged"] = row["flip_rate"] > flip_threshold or \
                row["mean_shift"] > shift_threshold
            all_flips.append(flips)
            all_shifts.append(shifts)
        else:
            row.update(flips=0, flip_rate=0.0, mean_shift=0.0, max_shift=0.0, examples=[],
                       flagged=False)
        rows.append(row)
    flips = np.concatenate(all_flips) if all_flips else np.zeros(0, bool)
    shifts = np.concatenate(all_shifts) if all_shifts else np.zeros(0)
    overall = {"texts": len(texts), "swaps": int(flips.size), "flips": int(flips.sum()),
               "flip_rate": float(flips.mean()) if flips.size else 0.0,
               "mean_shift": float(shifts.mean()) if shifts.size else 0.0,
               "flip_threshold": flip_threshold, "shift_threshold": shift_threshold}
    return {"overall": overall, "pairs": rows,
            "flagged": [row["pair"] for row in rows if row["flagged"]]}
