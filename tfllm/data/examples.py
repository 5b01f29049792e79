"""From raw records to clean train/validation example lists, with a report.

Bad rows are counted, listed by file:line and either reported or, past
`data.max_bad_fraction`, turned into an error; nothing is dropped silently.
Exact duplicates (compared after cleaning) are removed before the split, and
the split hashes the text, so copies of one text never straddle it.
"""

import dataclasses
import hashlib

import tensorflow as tf

from tfllm.data import cleaning
from tfllm.data import labels as labels_lib
from tfllm.data import sources
from tfllm.errors import DataError

MAX_LISTED = 5  # Bad rows named in a message; the count covers all of them.


@dataclasses.dataclass
class Examples:
    """Usable examples, split, and what happened to the rest.

    Args:
        train: list of Record.
        validation: list of Record.
        labels: the label vocabulary; a label's index is its class id.
        report: counts for the run log and metrics.jsonl: rows read, bad rows,
            duplicates removed, train and validation sizes.
    """

    train: list
    validation: list
    labels: list
    report: dict


def read(spec, data_config):
    """Reads one source with the column names of `data_config`."""
    return sources.read_records(
        spec,
        text_column=data_config.text_column,
        text_pair_column=data_config.text_pair_column,
        label_column=data_config.label_column,
        data_dir=data_config.tfds_data_dir,
    )


def check_bad_rows(bad, total, max_bad_fraction):
    """Raises DataError if the share of bad rows exceeds the allowed fraction."""
    if not bad or len(bad) <= max_bad_fraction * total:
        return
    listed = "; ".join(f"{r.origin}: {r.problem}" for r in bad[:MAX_LISTED])
    more = f" (and {len(bad) - MAX_LISTED} more)" if len(bad) > MAX_LISTED else ""
    raise DataError(
        f"{len(bad)} of {total} rows are bad, more than --config.data.max_bad_fraction="
        f"{max_bad_fraction}: {listed}{more}")


def usable(records, known_labels=None, known_as=""):
    """Splits records into (usable, bad); bad ones carry why in `problem`.

    A record is bad when its source marked it, when it has no label, or, if
    `known_labels` is given, when its label is not one of them (`known_as`
    names that set in the message).
    """
    good, bad = [], []
    for record in records:
        problem = record.problem
        if not problem and record.label is None:
            problem = "missing label"
        elif not problem and known_labels is not None and record.label not in known_labels:
            problem = f"label {record.label!r} not in {known_as}"
        if problem:
            bad.append(dataclasses.replace(record, problem=problem))
        else:
            good.append(record)
    return good, bad


def clean_keys(records, cleaning_config):
    """Returns the cleaned (text, text_pair) of each record, computed by the in-graph op."""
    clean = cleaning.clean_fn(cleaning_config)
    texts = clean(tf.constant([r.text for r in records], tf.string)).numpy()
    pairs = clean(tf.constant([r.text_pair or "" for r in records], tf.string)).numpy()
    return list(zip(texts, pairs))


def deduplicate(records, keys):
    """Keeps the first record of each distinct (cleaned text, pair, label)."""
    seen, kept = set(), []
    for record, key in zip(records, keys):
        full_key = (key, record.label)
        if full_key not in seen:
            seen.add(full_key)
            kept.append((record, key))
    return kept


def deduplicate_and_split(train, validation, data_config):
    """De-duplicates `train` and, without a validation source, holds part of it out by hash.

    Returns:
        (train, validation, number of duplicates removed).
    """
    keys = clean_keys(train, data_config.cleaning)
    kept = deduplicate(train, keys) if data_config.deduplicate else list(zip(train, keys))
    duplicates = len(train) - len(kept)
    if not data_config.validation:
        fraction, seed = data_config.validation_fraction, data_config.split_seed
        sides = [in_validation(key, fraction, seed) for _, key in kept]
        validation = [r for (r, _), side in zip(kept, sides) if side]
        train = [r for (r, _), side in zip(kept, sides) if not side]
    else:
        train = [r for r, _ in kept]
    if not train or not validation:
        raise DataError(f"{data_config.train}: split left {len(train)} training and "
                        f"{len(validation)} validation examples; expected both non-empty")
    return train, validation, duplicates


def in_validation(key, fraction, seed):
    """Decides the side of the split from a stable hash of the cleaned text."""
    digest = hashlib.sha256(repr((seed, key)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def prepare(data_config):
    """Reads, checks, de-duplicates and splits the data of a config's `data` section."""
    train = read(data_config.train, data_config)
    validation = read(data_config.validation, data_config) if data_config.validation else []
    total = len(train) + len(validation)
    train, bad = usable(train)
    labels = labels_lib.label_vocabulary(r.label for r in train)
    validation, bad_validation = usable(validation, set(labels), "the training labels")
    bad += bad_validation
    check_bad_rows(bad, total, data_config.max_bad_fraction)
    if len(labels) < 2:
        raise DataError(f"{data_config.train}: expected at least 2 distinct labels, "
                        f"found {labels} (column --config.data.label_column="
                        f"{data_config.label_column!r})")

    train, validation, duplicates = deduplicate_and_split(train, validation, data_config)
    report = {
        "rows_read": total,
        "bad_rows": len(bad),
        "bad_row_examples": [f"{r.origin}: {r.problem}" for r in bad[:MAX_LISTED]],
        "duplicates_removed": duplicates,
        "train_examples": len(train),
        "validation_examples": len(validation),
        "num_labels": len(labels),
    }
    return Examples(train, validation, labels, report)


def describe(report):
    """The report as lines for the run log: counts first, then each listed bad row."""
    lines = [f"data: {report['rows_read']} rows read, {report['bad_rows']} bad, "
             f"{report['duplicates_removed']} exact duplicates removed; "
             f"{report['train_examples']} train / {report['validation_examples']} validation "
             + (f"examples, {report['num_labels']} labels" if "num_labels" in report
                else f"{report['format']}")]
    lines += [f"  bad row {row}" for row in report["bad_row_examples"]]
    if report["bad_rows"] > len(report["bad_row_examples"]):
        lines.append(f"  ... {report['bad_rows'] - len(report['bad_row_examples'])} more bad rows")
    return "\n".join(lines)
