"""Language-model data: documents or prompt/response pairs, read, checked, de-duplicated, split.

Two shapes of data feed a language model:
- documents: plain text (a .txt file with documents separated by blank lines,
  or a text column of .jsonl/.csv/.tsv/TFDS); every token is a training target.
- pairs: a prompt and a response (.jsonl/.csv/.tsv with prompt and response
  columns, or the default dialog corpus as consecutive turns); the loss covers
  only the response.

As for classification, bad rows are marked with file:line, counted and
reported; duplicates go before a split that hashes the cleaned text.
"""

import csv
import dataclasses
import json
import os

from tfllm.data import default_corpus
from tfllm.data import examples as examples_lib
from tfllm.data import sources
from tfllm.data.records import Record
from tfllm.errors import DataError



@dataclasses.dataclass
class LmExamples:
    """Usable language-model examples, split, and what happened to the rest.

    Args:
        train: list of Record (text = document or prompt; text_pair = response).
        validation: list of Record.
        pairs: True when records are prompt/response pairs.
        report: counts for the run log (rows read, bad rows, duplicates, sizes).
    """

    train: list
    validation: list
    pairs: bool
    report: dict


def is_pairs(spec, data_config):
    """Decides whether `spec` holds prompt/response pairs (data.format 'auto' looks)."""
    if spec != "default" and not spec.startswith("tfds:") and not os.path.isfile(spec):
        raise DataError(f"data file not found: {spec}")
    if data_config.format != "auto":
        return data_config.format == "pairs"
    if spec == "default":
        return True
    suffix = os.path.splitext(spec)[1].lower()
    if suffix in (".csv", ".tsv"):
        return data_config.prompt_column in _header(spec)
    if suffix in (".jsonl", ".json"):
        return data_config.prompt_column in _first_object(spec)
    return False


def _header(path):
    delimiter = "\t" if path.lower().endswith(".tsv") else ","
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        return next(csv.reader(f, delimiter=delimiter), [])


def _first_object(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.strip():
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    return {}
                return obj if isinstance(obj, dict) else {}
    return {}


def read(spec, data_config, pairs):
    """Returns the Records of one source as documents or (prompt, response) pairs."""
    if spec == "default":
        if not pairs:
            return [dataclasses.replace(r, label=None, text_pair=None)
                    for r in default_corpus.topic_records()]
        return [dataclasses.replace(r, label=None) for r in default_corpus.dialog_pairs()]
    if spec.endswith(".txt") and not spec.startswith("tfds:"):
        if pairs:
            raise DataError(f"{spec}: a .txt file holds documents, not prompt/response pairs; "
                            "use .jsonl, .csv or .tsv or --config.data.format=documents")
        return read_paragraphs(spec)
    if pairs and spec.lower().endswith((".csv", ".tsv")):
        header = _header(spec)
        for flag in ("prompt_column", "response_column"):
            if data_config[flag] not in header:
                raise DataError(f"{spec}: no column {data_config[flag]!r} (selected by "
                                f"--config.data.{flag}); columns found: {header}")
    columns = ((data_config.prompt_column, data_config.response_column) if pairs
               else (data_config.text_column, ""))
    return sources.read_records(spec, text_column=columns[0], text_pair_column=columns[1],
                                label_column="", data_dir=data_config.tfds_data_dir)


def read_paragraphs(path):
    """Reads a .txt file as documents separated by blank lines (line breaks inside are kept).

    A document with bytes that are not UTF-8 is marked bad at the line that holds them.
    """
    if not os.path.isfile(path):
        raise DataError(f"data file not found: {path}")
    records, lines, first, problem = [], [], 0, ""

    def flush():
        if lines:
            records.append(Record(text="\n".join(lines), origin=f"{path}:{first}",
                                  problem=problem))

    for number, raw in sources.numbered_lines(path):
        if not raw.strip():
            flush()
            lines, problem = [], ""
            continue
        text, bad = sources.decode(raw)
        if not lines:
            first = number
        if bad and not problem:
            first, problem = number, bad
        lines.append(text)
    flush()
    return records


def usable(records):
    """Splits records into (usable, bad); an empty document, prompt or response is bad."""
    good, bad = [], []
    for record in records:
        problem = record.problem
        if not problem and not (record.text or "").strip():
            problem = "missing text"
        elif not problem and record.text_pair is not None and not record.text_pair.strip():
            problem = "missing response"
        if problem:
            bad.append(dataclasses.replace(record, problem=problem))
        else:
            good.append(record)
    return good, bad


def prepare(data_config):
    """Reads, checks, de-duplicates and splits the data of a language-model config."""
    pairs = is_pairs(data_config.train, data_config)
    train = read(data_config.train, data_config, pairs)
    validation = read(data_config.validation, data_config, pairs) if data_config.validation else []
    total = len(train) + len(validation)
    train, bad = usable(train)
    validation, bad_validation = usable(validation)
    bad += bad_validation
    examples_lib.check_bad_rows(bad, total, data_config.max_bad_fraction)

    train, validation, duplicates = examples_lib.deduplicate_and_split(
        train, validation, data_config)
    report = {
        "format": "pairs" if pairs else "documents",
        "rows_read": total,
        "bad_rows": len(bad),
        "bad_row_examples": [f"{r.origin}: {r.problem}" for r in bad[:examples_lib.MAX_LISTED]],
        "duplicates_removed": duplicates,
        "train_examples": len(train),
        "validation_examples": len(validation),
    }
    return LmExamples(train, validation, pairs, report)
