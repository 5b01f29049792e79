"""From tagged files to checked train/validation sentence lists, with a report.

The tagging counterpart of `tfllm.data.examples`, with the same rules: bad
sentences (malformed lines, tags outside the scheme, validation tags the
training data lacks, sentences longer than `data.max_seq_length` tokens) are
counted and listed by file:line, and past `data.max_bad_fraction` they stop the
run; nothing is dropped silently. Exact duplicates (same words, same tags) are
removed before the split, and the split hashes the words, so copies of one
sentence never straddle it.

Reading happens in two steps because the length check needs the WordPiece
vocabulary, which is learned from the training words: `read` (formats and
tags), then `prepare` (lengths, duplicates, split).
"""

import dataclasses

from tfllm.data import examples as examples_lib
from tfllm.tasks.tagging import reading as tagging
from tfllm.errors import DataError


@dataclasses.dataclass
class ReadSentences:
    """What `read` found: usable sentences, the tag vocabulary and the bad sentences.

    Args:
        train, validation: lists of usable TaggedSentence.
        tags: the tag vocabulary ("O" first); a tag's index is its id.
        bad: TaggedSentence with `problem` set, training and validation.
        total: sentences read, bad ones included.
    """

    train: list
    validation: list
    tags: list
    bad: list
    total: int


@dataclasses.dataclass
class TaggedExamples:
    """Usable sentences, split, and what happened to the rest.

    Args:
        train, validation: lists of TaggedSentence.
        tags: the tag vocabulary; a tag's index is its id.
        report: counts for the run log and data_report.json.
    """

    train: list
    validation: list
    tags: list
    report: dict


def read_file(spec, data_config, tag_set=None):
    """The TaggedSentences of one file, checked against the scheme (and `tag_set`)."""
    return tagging.read_tagged(spec, scheme=data_config.scheme, tag_set=tag_set,
                               tokens_key=data_config.tokens_key, tags_key=data_config.tags_key)


def usable(sentences):
    """Splits sentences into (usable, bad)."""
    return [s for s in sentences if not s.problem], [s for s in sentences if s.problem]


def read(data_config):
    """Reads data.train and data.validation; raises DataError past data.max_bad_fraction.

    Validation sentences are read with the training tags as the tag set, so a
    tag the training data lacks marks its sentence bad, with its line.
    """
    train, bad = usable(read_file(data_config.train, data_config))
    tags = tagging.tag_vocabulary(train)
    if len(tags) < 2:
        raise DataError(f"{data_config.train}: no entity tags in {len(train)} usable sentences; "
                        f"expected {data_config.scheme} tags such as B-PER besides O")
    validation = []
    total = len(train) + len(bad)
    if data_config.validation:
        read_validation = read_file(data_config.validation, data_config, tag_set=tags)
        validation, bad_validation = usable(read_validation)
        bad += bad_validation
        total += len(read_validation)
    examples_lib.check_bad_rows(bad, total, data_config.max_bad_fraction)
    return ReadSentences(train, validation, tags, bad, total)


def too_long(sentences, token_counts, max_seq_length):
    """Splits sentences into (those that fit, those that do not, marked bad with their count)."""
    fit, long = [], []
    for sentence, count in zip(sentences, token_counts, strict=True):
        if count <= max_seq_length:
            fit.append(sentence)
        else:
            long.append(dataclasses.replace(sentence, problem=(
                f"needs {int(count)} tokens ([CLS] and [SEP] included), more than "
                f"--config.data.max_seq_length={max_seq_length}")))
    return fit, long


def prepare(sentences, data_config, count_tokens):
    """Drops too-long sentences (as bad), de-duplicates and splits `read`'s sentences.

    Args:
        sentences: a ReadSentences.
        data_config: the config's `data` section.
        count_tokens: list of word tuples -> tokens each needs ([CLS], [SEP] included).

    Returns:
        TaggedExamples; DataError if bad sentences now pass data.max_bad_fraction or
        the split leaves a side empty.
    """
    length = data_config.max_seq_length
    train, long_train = too_long(sentences.train, count_tokens([s.tokens for s in sentences.train]),
                                 length)
    validation, long_validation = too_long(
        sentences.validation, count_tokens([s.tokens for s in sentences.validation]), length)
    bad = sentences.bad + long_train + long_validation
    examples_lib.check_bad_rows(bad, sentences.total, data_config.max_bad_fraction)
    train, validation, duplicates = deduplicate_and_split(train, validation, data_config)
    report = {
        "rows_read": sentences.total,
        "bad_rows": len(bad),
        "bad_row_examples": [f"{s.origin}: {s.problem}" for s in bad[:examples_lib.MAX_LISTED]],
        "too_long": len(long_train) + len(long_validation),
        "duplicates_removed": duplicates,
        "train_examples": len(train),
        "validation_examples": len(validation),
        "num_labels": len(sentences.tags),
        "tags": list(sentences.tags),
    }
    return TaggedExamples(train, validation, list(sentences.tags), report)


def deduplicate_and_split(train, validation, data_config):
    """Removes repeated (words, tags) from `train` and, without a validation file, holds
    out a seeded share of it by a hash of the words.

    Returns:
        (train, validation, number of duplicates removed).
    """
    if data_config.deduplicate:
        seen, kept = set(), []
        for sentence in train:
            if (sentence.tokens, sentence.tags) not in seen:
                seen.add((sentence.tokens, sentence.tags))
                kept.append(sentence)
    else:
        kept = list(train)
    duplicates = len(train) - len(kept)
    if not data_config.validation:
        fraction, seed = data_config.validation_fraction, data_config.split_seed
        sides = [examples_lib.in_validation(s.tokens, fraction, seed) for s in kept]
        validation = [s for s, side in zip(kept, sides, strict=True) if side]
        kept = [s for s, side in zip(kept, sides, strict=True) if not side]
    if not kept or not validation:
        raise DataError(f"{data_config.train}: split left {len(kept)} training and "
                        f"{len(validation)} validation sentences; expected both non-empty")
    return kept, validation, duplicates
