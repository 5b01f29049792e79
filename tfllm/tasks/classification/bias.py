"""Counterfactual bias probe: swap paired terms in texts and see whether predictions move.

For each pair (he/she, Greg/Jamal, ...) every text containing either term
is rewritten with the terms exchanged (whole words, case kept) and both
versions are classified. A classifier that ignores the terms gives the same
answer; one that leans on them flips labels or shifts probability. The
report counts flips and probability shifts per pair and overall, with an
interval for each pair's flip rate (Wilson score) and mean shift
(percentile bootstrap), and flags a pair only when it has enough rewritten
texts and its interval lies above a threshold: a flip or two among a dozen
texts is no evidence of bias.
"""

import dataclasses
import importlib.resources
import math
import re
import statistics

import numpy as np

from tfllm.errors import DataError

DEFAULT_PAIRS = "bias_pairs.tsv"
# Resamples of the bootstrap interval of a mean shift: percentile intervals want a thousand or
# more (Efron and Tibshirani 1993); at 95% each end then rests on the 50 most extreme means.
RESAMPLES = 2000


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
    return replacement.lower() if word.islower() else replacement


def swap(text, pair):
    """`text` with the pair's terms exchanged (whole words, any case, capitalisation kept);
    None if it contains neither."""
    swapped = {pair.first.lower(): pair.second, pair.second.lower(): pair.first}
    pattern = re.compile(r"\b(" + "|".join(re.escape(t) for t in swapped) + r")\b",
                         re.IGNORECASE)
    if not pattern.search(text):
        return None
    return pattern.sub(lambda m: _with_case_of(m.group(0), swapped[m.group(0).lower()]), text)


def wilson_interval(successes, n, confidence=0.95):
    """(low, high): the Wilson score interval (Wilson 1927) of a proportion, successes of n.

    It holds every p for which successes/n lies within z standard errors of p
    (z the normal quantile of `confidence`). Unlike p_hat +- z * se it stays in
    [0, 1] and keeps a width at 0 or n successes, where small counts matter.
    """
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(values, confidence=0.95, resamples=RESAMPLES, seed=0):
    """(low, high): the percentile bootstrap interval of the mean of `values`, seeded.

    Shifts lie in [0, 1] and are skewed (most near 0, a few large), where a
    t interval's normal approximation is poor at a few dozen values and its
    bounds can leave [0, 1]; the bootstrap assumes no shape and stays in range.
    The seed makes the same texts give the same interval.
    """
    values = np.asarray(values, np.float64)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, 2**22 // values.size)  # resamples at a time, about 32 MB of indices
    for start in range(0, resamples, chunk):
        stop = min(start + chunk, resamples)
        means[start:stop] = values[rng.integers(0, values.size, (stop - start,
                                                                  values.size))].mean(axis=1)
    alpha = 1 - confidence
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _rewrites(texts, pair):
    originals, rewritten = [], []
    for text in texts:
        other = swap(text, pair)
        if other is not None and other != text:
            originals.append(text)
            rewritten.append(other)
    return originals, rewritten


def _pair_row(classify, pair, texts, settings, labels):
    """The report row of one pair, and its (flips, shifts) arrays."""
    originals, rewritten = _rewrites(texts, pair)
    row = {"pair": pair.name, "group": pair.group, "texts": len(originals)}
    if not originals:
        row.update(flips=0, flip_rate=0.0, flip_rate_interval=None, mean_shift=0.0,
                   mean_shift_interval=None, max_shift=0.0, flagged=False, examples=[],
                   rewritten=[])
        return row, np.zeros(0, bool), np.zeros(0)
    before, after = classify(originals), classify(rewritten)
    predicted, now = before.argmax(axis=-1), after.argmax(axis=-1)
    index = np.arange(len(originals))
    flips = predicted != now
    p_before, p_after = before[index, predicted], after[index, predicted]
    shifts = np.abs(p_before - p_after)
    name = (lambda i: labels[i]) if labels is not None else int
    listing = [{"text": originals[i], "swapped": rewritten[i], "label": name(predicted[i]),
                "swapped_label": name(now[i]), "before": float(p_before[i]),
                "after": float(p_after[i]), "shift": float(shifts[i]),
                "flipped": bool(flips[i])}
               for i in np.argsort(-shifts, kind="stable")]  # the largest shifts first
    flip_interval = wilson_interval(int(flips.sum()), flips.size, settings["confidence"])
    shift_interval = mean_interval(shifts, settings["confidence"], seed=settings["seed"])
    flagged = len(originals) >= settings["min_texts"] and (
        flip_interval[0] > settings["flip_threshold"] or
        shift_interval[0] > settings["shift_threshold"])
    row.update(flips=int(flips.sum()), flip_rate=float(flips.mean()),
               flip_rate_interval=list(flip_interval), mean_shift=float(shifts.mean()),
               mean_shift_interval=list(shift_interval), max_shift=float(shifts.max()),
               flagged=bool(flagged), examples=listing[:settings["examples"]],
               rewritten=listing if flagged else [])
    return row, flips, shifts


def probe(classify, texts, pairs, flip_threshold=0.05, shift_threshold=0.05, min_texts=20,
          confidence=0.95, labels=None, examples=3, seed=0):
    """Runs the probe.

    Args:
        classify: texts -> class probabilities, shape (len(texts), labels).
        texts: the texts to rewrite (evaluation texts, ideally).
        pairs: `Pair`s.
        flip_threshold, shift_threshold: a pair is flagged when the lower
            bound of its flip rate's Wilson interval, or of its mean shift's
            bootstrap interval, exceeds these ...
        min_texts: ... and at least this many texts were rewritten.
        confidence: of both intervals.
        labels: label names, for the listings; label indices without.
        examples: the largest shifts kept per pair, to read (all of them for a
            flagged pair, under "rewritten").
        seed: of the bootstrap.

    Returns:
        {"overall": {...}, "pairs": [{pair, group, texts, flips, flip_rate,
        flip_rate_interval, mean_shift, mean_shift_interval, max_shift,
        flagged, examples, rewritten}], "flagged": [pair names]}. A shift is
        the absolute change in the probability of the label predicted for the
        original text; each listed rewrite has both probabilities ("before",
        "after") and both predicted labels ("label", "swapped_label").
    """
    settings = {"flip_threshold": flip_threshold, "shift_threshold": shift_threshold,
                "min_texts": min_texts, "confidence": confidence, "examples": examples,
                "seed": seed}
    rows, all_flips, all_shifts = [], [], []
    for pair in pairs:
        row, flips, shifts = _pair_row(classify, pair, texts, settings, labels)
        rows.append(row)
        all_flips.append(flips)
        all_shifts.append(shifts)
    flips, shifts = np.concatenate(all_flips), np.concatenate(all_shifts)
    overall = {"texts": len(texts), "swaps": int(flips.size), "flips": int(flips.sum()),
               "flip_rate": float(flips.mean()) if flips.size else 0.0,
               "mean_shift": float(shifts.mean()) if shifts.size else 0.0,
               **{k: v for k, v in settings.items() if k != "examples"},
               "flip_rate_method": "Wilson score interval",
               "mean_shift_method": f"percentile bootstrap, {RESAMPLES} resamples"}
    return {"overall": overall, "pairs": rows,
            "flagged": [row["pair"] for row in rows if row["flagged"]]}


def _excerpt(text, pair, width=60):
    """`text`, or `width` characters either side of its first term of `pair` when longer."""
    if len(text) <= 2 * width + 20:
        return text
    match = re.search(r"\b(" + re.escape(pair.first) + "|" + re.escape(pair.second) + r")\b",
                      text, re.IGNORECASE)
    middle = match.start() if match else 0
    start, stop = max(0, middle - width), min(len(text), middle + width)
    return ("..." if start else "") + text[start:stop] + ("..." if stop < len(text) else "")


def _table(report):
    overall = report["overall"]
    level = f"{overall['confidence']:.0%}"
    probed = sorted((row for row in report["pairs"] if row["texts"]),
                    key=lambda row: (not row["flagged"], -row["flip_rate"], -row["mean_shift"]))
    width = max([len(row["pair"]) for row in probed] + [4])
    lines = [f"{'pair':<{width}}  texts  flips  {'flip rate [' + level + ' interval]':<25}  "
             f"{'mean shift [' + level + ' interval]':<25}  max shift"]
    for row in probed:
        low, high = row["flip_rate_interval"]
        flip = f"{row['flip_rate']:6.1%} [{low:.1%}, {high:.1%}]"
        low, high = row["mean_shift_interval"]
        shift = f"{row['mean_shift']:.4f} [{low:.4f}, {high:.4f}]"
        mark = ("  FLAGGED" if row["flagged"] else
                f"  < {overall['min_texts']} texts" if row["texts"] < overall["min_texts"] else "")
        lines.append(f"{row['pair']:<{width}}  {row['texts']:5d}  {row['flips']:5d}  "
                     f"{flip:<25}  {shift:<25}  {row['max_shift']:9.4f}{mark}")
    return lines


def report_lines(report, shown=5):
    """The printed report: totals, how pairs are judged, the table, and for each flagged
    pair its `shown` largest rewrites (original -> rewritten, both probabilities)."""
    overall = report["overall"]
    lines = [f"{overall['swaps']} rewritten texts from {overall['texts']}: {overall['flips']} "
             f"predictions flipped ({overall['flip_rate']:.1%}), mean probability shift "
             f"{overall['mean_shift']:.4f}",
             f"{overall['confidence']:.0%} intervals: flip rate by Wilson score, mean shift by "
             f"bootstrap ({RESAMPLES} resamples, seed {overall['seed']}). Flagged: at least "
             f"{overall['min_texts']} rewritten texts and an interval above "
             f"{overall['flip_threshold']:.0%} flips or {overall['shift_threshold']:.2f} "
             "mean shift."]
    lines += _table(report)
    for row in report["pairs"]:
        if not row["flagged"]:
            continue
        pair = Pair(*row["pair"].split("/", 1))
        more = len(row["rewritten"]) - shown
        lines.append(f"{row['pair']}: {row['texts']} rewritten texts, the largest shifts first"
                     + (f" ({more} more in the report file)" if more > 0 else "") + ":")
        for entry in row["rewritten"][:shown]:
            change = f", now {entry['swapped_label']}" if entry["flipped"] else ""
            lines.append(f"  {_excerpt(entry['text'], pair)} -> "
                         f"{_excerpt(entry['swapped'], pair)}  p({entry['label']}) "
                         f"{entry['before']:.4f} -> {entry['after']:.4f}{change}")
    unused = [row["pair"] for row in report["pairs"] if not row["texts"]]
    if unused:
        lines.append(f"no text contains: {', '.join(unused)}")
    lines.append(f"flagged: {', '.join(report['flagged']) or 'none'}")
    return lines
