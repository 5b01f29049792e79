"""Seq2seq data: source/target pairs read, checked, split, tokenized and packed for BART.

Rows come from a TSV (a header names the columns) or JSON Lines (one object per
line), read by `tfllm.data.sources`, so a bad row is marked with file:line and
counted against `data.max_bad_fraction` as for the other tasks: a missing or
empty source or target, bytes that are not UTF-8, invalid JSON, and a pair
whose source or target needs more tokens than `data.max_source_length` /
`data.max_target_length` allow. Such a pair is reported and left out, never
cut and trained on in part.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from tfllm.data import documents
from tfllm.data import examples as examples_lib
from tfllm.data import sources
from tfllm.data import stream
from tfllm.errors import DataError

SUFFIXES = (".tsv", ".csv", ".jsonl", ".json")


@dataclasses.dataclass
class TokenizedPairs:
    """Pairs that fit, with their token ids (specials not included).

    Args:
        records: list of Record (text = source, text_pair = target).
        source_ids, target_ids: one int32 array per record.
    """

    records: list
    source_ids: list
    target_ids: list


def read(spec, data_config):
    """The Records of one pairs file (text = source, text_pair = target), bad rows marked."""
    spec = os.fspath(spec)
    if not spec.lower().endswith(SUFFIXES):
        raise DataError(f"{spec}: expected a .tsv (or .csv) file with a header or a .jsonl file "
                        "of source/target pairs")
    if not os.path.isfile(spec):
        raise DataError(f"data file not found: {spec}")
    if spec.lower().endswith((".tsv", ".csv")):
        header = documents._header(spec)  # pylint: disable=protected-access
        for flag in ("source_column", "target_column"):
            if data_config[flag] not in header:
                raise DataError(f"{spec}: no column {data_config[flag]!r} (selected by "
                                f"--config.data.{flag}); columns found: {header}")
    return sources.read_records(spec, text_column=data_config.source_column,
                                text_pair_column=data_config.target_column, label_column="")


def read_and_split(data_config):
    """Reads, checks (missing fields), de-duplicates and splits the pairs of a config.

    Returns:
        (train records, validation records, report with the bad rows found so far).
    """
    train = read(data_config.train, data_config)
    validation = read(data_config.validation, data_config) if data_config.validation else []
    total = len(train) + len(validation)
    train, bad = documents.usable(train)
    validation, bad_validation = documents.usable(validation)
    bad += bad_validation
    examples_lib.check_bad_rows(bad, total, data_config.max_bad_fraction)
    train, validation, duplicates = examples_lib.deduplicate_and_split(
        train, validation, data_config)
    report = {"format": "source/target pairs", "rows_read": total, "bad": bad,
              "duplicates_removed": duplicates}
    return train, validation, report


def token_ids(texts, tokenize, chunk=1024):
    """One int32 id array per text: `tokenize` (strings -> ragged ids) called eagerly, in
    chunks. Eager calls cost milliseconds where a tf.data map first traces the tokenizer for
    seconds, and tokenize exactly as the same ops do in a graph."""
    ids = []
    for start in range(0, len(texts), chunk):
        batch = tokenize(tf.constant(texts[start:start + chunk], tf.string))
        if isinstance(batch, tf.RaggedTensor):
            ids += np.split(batch.flat_values.numpy().astype(np.int32), batch.row_splits[1:-1])
        else:  # keras-hub hands eager ragged outputs back as Python lists
            ids += [np.asarray(row, np.int32) for row in batch]
    return ids


def tokenize_pairs(records, tokenize, data_config):
    """Tokenizes sources and targets; returns (TokenizedPairs that fit, too-long records)."""
    ids = token_ids([r.text for r in records] + [r.text_pair for r in records], tokenize)
    source_ids, target_ids = ids[:len(records)], ids[len(records):]
    fit, long = TokenizedPairs([], [], []), []
    for record, source, target in zip(records, source_ids, target_ids, strict=True):
        problem = ""
        if len(source) + 2 > data_config.max_source_length:
            problem = (f"source needs {len(source) + 2} tokens (<s> and </s> included), more than "
                       f"--config.data.max_source_length={data_config.max_source_length}")
        elif len(target) + 1 > data_config.max_target_length:
            problem = (f"target needs {len(target) + 1} tokens (</s> included), more than "
                       f"--config.data.max_target_length={data_config.max_target_length}")
        if problem:
            long.append(dataclasses.replace(record, problem=problem))
        else:
            fit.records.append(record)
            fit.source_ids.append(source)
            fit.target_ids.append(target)
    return fit, long


def finish(train, validation, report, tokenize, data_config):
    """Tokenizes both splits, checks every bad row (too long ones too) against
    data.max_bad_fraction; returns (train TokenizedPairs, validation TokenizedPairs, report)."""
    train, long_train = tokenize_pairs(train, tokenize, data_config)
    validation, long_validation = tokenize_pairs(validation, tokenize, data_config)
    bad = report["bad"] + long_train + long_validation
    examples_lib.check_bad_rows(bad, report["rows_read"], data_config.max_bad_fraction)
    if not train.records or not validation.records:
        raise DataError(f"{data_config.train}: {len(train.records)} training and "
                        f"{len(validation.records)} validation pairs fit; expected both non-empty")
    report = {
        "format": report["format"],
        "rows_read": report["rows_read"],
        "bad_rows": len(bad),
        "too_long": len(long_train) + len(long_validation),
        "bad_row_examples": [f"{r.origin}: {r.problem}" for r in bad[:examples_lib.MAX_LISTED]],
        "duplicates_removed": report["duplicates_removed"],
        "train_examples": len(train.records),
        "validation_examples": len(validation.records),
    }
    return train, validation, report


def pack(pairs, start_id, end_id, pad_id):
    """Packs TokenizedPairs as BART trains on them; returns (features, targets, weights).

    Features are keras-hub's BartBackbone inputs, each batch as wide as its longest
    pair: `<s> source </s>` for the encoder, `</s> <s> target` for the decoder, which
    predicts `<s> target </s>`. Weights are 1 on the target and its `</s>` only.
    """
    count = len(pairs.records)
    source_width = max(len(s) for s in pairs.source_ids) + 2
    target_width = max(len(t) for t in pairs.target_ids) + 2
    encoder = np.full((count, source_width), pad_id, np.int32)
    decoder = np.full((count, target_width), pad_id, np.int32)
    targets = np.full((count, target_width), pad_id, np.int32)
    weights = np.zeros((count, target_width), np.float32)
    for row, (source, target) in enumerate(zip(pairs.source_ids, pairs.target_ids, strict=True)):
        encoder[row, :len(source) + 2] = [start_id, *source, end_id]
        decoder[row, :len(target) + 2] = [end_id, start_id, *target]
        targets[row, :len(target) + 2] = [start_id, *target, end_id]
        weights[row, 1:len(target) + 2] = 1.0
    def mask(lengths, width):
        return (np.arange(width)[None, :] < np.array(lengths)[:, None]).astype(np.int32)

    features = {
        "encoder_token_ids": encoder,
        "encoder_padding_mask": mask([len(s) + 2 for s in pairs.source_ids], source_width),
        "decoder_token_ids": decoder,
        "decoder_padding_mask": mask([len(t) + 2 for t in pairs.target_ids], target_width),
    }
    return features, targets, weights


def dataset(packed, batch_size, training, shuffle_buffer=10_000, seed=0, start_batch=0):
    """Batches of (features, targets, weights): the endless training stream from
    `start_batch` when `training`, else one pass in order."""
    data = tf.data.Dataset.from_tensor_slices(packed)
    if training:
        return stream.training_stream(data, batch_size, shuffle_buffer, seed,
                                      start_batch).prefetch(tf.data.AUTOTUNE)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)
