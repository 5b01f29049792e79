"""Reads examples from files and datasets into Records.

One small reader per format. Readers never drop a row: a bad row comes back
with `problem` set and `origin` pointing at it ("path:line",
"tfds:name:split:index"), so the caller can count and report bad rows before
any work starts. Errors that make the whole source unusable (missing file,
missing column, unprepared dataset) raise DataError instead.
"""

import collections
import csv
import json
import os
import re

from tfllm.data import default_corpus
from tfllm.data.records import Record
from tfllm.errors import DataError

UNDECODABLE = "undecodable bytes (not UTF-8)"
_EXPECTED = "expected .csv, .tsv, .jsonl, .txt, 'default' or 'tfds:NAME[:SPLIT]'"
_BOM = "\ufeff"
_FASTTEXT_LABEL = re.compile(r"__label__(\S*)\s*")
# A TFDS version such as 2.0.0 or 1.* (so "tfds:glue/sst2:2.0.0:test" parses).
_TFDS_VERSION = re.compile(r"[0-9*]+(\.[0-9*]+){0,2}")
# Field names equal the config keys, so errors can name the flag.
_Columns = collections.namedtuple(
    "_Columns", ["text_column", "text_pair_column", "label_column"]
)


def read_records(
    spec,
    *,
    text_column="text",
    text_pair_column="",
    label_column="label",
    data_dir="",
    base_dir="",
):
    """Returns a list[Record] read from `spec`.

    Args:
        spec: "default" (the chatterbot topic corpus), a .csv/.tsv/.jsonl/
            .json/.txt path, or "tfds:NAME[:VERSION][:SPLIT]".
        text_column: column (JSON key, TFDS feature) holding the text.
        text_pair_column: column of the second segment; "" for none.
        label_column: column of the label; "" for unlabelled data.
        data_dir: TFDS data directory ("" for the TFDS default).
        base_dir: directory that relative paths are resolved against.

    Raises:
        DataError: the source cannot be used at all (the message names it).
    """
    if not text_column:
        raise DataError("--config.data.text_column: expected a column name, got ''")
    spec = os.fspath(spec)  # a pathlib.Path works too
    columns = _Columns(text_column, text_pair_column, label_column)
    if spec == "default":
        return default_corpus.topic_records()
    if spec.startswith("tfds:"):
        return _read_tfds(spec, columns, data_dir)
    path = os.path.expanduser(spec)
    if base_dir and not os.path.isabs(path):
        path = os.path.join(base_dir, path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in _READERS:
        raise DataError(f"unsupported data file {spec!r}: {_EXPECTED}")
    if not os.path.isfile(path):
        raise DataError(f"data file not found: {path}")
    return _READERS[suffix](path, columns)


def _read_delimited(path, columns):
    """Reads a .csv or .tsv file with a header row naming the columns."""
    delimiter = "\t" if path.lower().endswith(".tsv") else ","
    records = []
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader, None)
        if not header:
            raise DataError(f"{path}:1: expected a header row naming the columns")
        header[0] = header[0].removeprefix(_BOM)
        _check_columns(path, "column", header, columns)
        line = reader.line_num
        try:
            for row in reader:
                # line_num counts physical lines, quoted newlines included.
                start, line = line + 1, reader.line_num
                if row:  # not a blank line
                    origin = f"{path}:{start}"
                    records.append(_delimited_record(row, header, columns, origin))
        except csv.Error as err:
            raise DataError(f"{path}:{line + 1}: cannot parse the row: {err}") from err
    return records


def _delimited_record(row, header, columns, origin):
    """Builds the Record of one CSV/TSV row."""
    if len(row) != len(header):
        problem = f"expected {len(header)} fields, found {len(row)}"
        return Record(text=None, origin=origin, problem=problem)
    # surrogateescape kept the undecodable bytes; encoding gives them back.
    raws = [
        row[header.index(name)].encode("utf-8", "surrogateescape") if name else None
        for name in columns
    ]
    return _record(origin, columns, [decode(raw) for raw in raws])


def _read_jsonl(path, columns):
    """Reads JSON Lines: one object per line; blank lines are skipped."""
    records = []
    for origin, obj, problem in json_objects(path):
        if obj is None:
            records.append(Record(text=None, origin=origin, problem=problem))
            continue
        values = [
            _json_value(obj.get(name), name, flag)
            for flag, name in columns._asdict().items()
        ]
        records.append(_record(origin, columns, values, problem))
    return records


def json_objects(path):
    """Yields (origin "path:line", object or None, problem) for each non-blank line of a
    JSON Lines file: None and the reason when the line is not a JSON object, the object and
    "" (or an undecodable-bytes problem) otherwise.

    Raises:
        DataError: the file starts with a JSON array (a JSON file, not JSON Lines).
    """
    first = True
    for number, raw in numbered_lines(path):
        if not raw.strip():
            continue
        origin = f"{path}:{number}"
        line, problem = decode(raw)
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            if first and line.lstrip().startswith("["):
                raise DataError(f"{origin}: found a JSON array; expected JSON Lines "
                                "(one object per line)") from err
            obj, problem = None, problem or f"invalid JSON: {err.msg} (column {err.colno})"
        first = False
        if obj is not None and not isinstance(obj, dict):
            kind = type(obj).__name__
            obj, problem = None, problem or f"invalid JSON: expected an object, found {kind}"
        yield origin, obj, problem


def _json_value(value, name, flag):
    """Returns (str or None, problem) for one JSON value."""
    if value is None or isinstance(value, str):
        return value, ""
    if flag != "label_column":
        kind = type(value).__name__
        return None, f"text in column {name!r} must be a string, found {kind}"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value), ""
    return None, "label must be a string or integer"


def _read_text(path, columns):
    """Reads plain text, one example per line, with fastText label prefixes.

    "__label__sports Great match" gets label "sports"; a line without a prefix
    gets label None. `label_column` does not apply to plain text.
    """
    if columns.text_pair_column:
        raise DataError(
            f"{path}: a .txt file has no second text segment: use .csv, .tsv, "
            ".jsonl or --config.data.text_pair_column=''"
        )
    records = []
    for number, raw in numbered_lines(path):
        if not raw.strip():
            continue
        text, problem = decode(raw)
        text = text.strip()
        labels = []
        while match := _FASTTEXT_LABEL.match(text):
            labels.append(match.group(1))
            text = text[match.end() :]
        if not text:
            problem = problem or "missing text"
        elif len(labels) > 1:
            problem = problem or "several labels (multi-label is not supported)"
        elif labels and not labels[0]:
            problem = problem or "missing label after '__label__'"
        label = labels[0] if labels else None
        records.append(Record(text, label, origin=f"{path}:{number}", problem=problem))
    return records


def numbered_lines(path):
    """Yields (1-based line number, line bytes without the line ending).

    Binary, so only "\\n" ends a line and undecodable bytes stay in their line.
    """
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            if number == 1:
                raw = raw.removeprefix(_BOM.encode("utf-8"))
            yield number, raw.rstrip(b"\r\n")


def decode(raw):
    """Returns (text, problem): bad UTF-8 is replaced by U+FFFD and marked."""
    if raw is None:
        return None, ""
    try:
        return raw.decode("utf-8"), ""
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace"), UNDECODABLE


def _read_tfds(spec, columns, data_dir):
    """Reads a prepared TFDS split; never downloads (runs are offline)."""
    name, split = _parse_tfds_spec(spec)
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

    try:
        dataset, info = tfds.load(
            name, split=split, data_dir=data_dir or None, download=False, with_info=True
        )
    except tfds.core.DatasetNotFoundError as err:
        raise DataError(f"{spec}: no TFDS dataset named {name!r}") from err
    except AssertionError as err:
        # tfds.load's only signal that the data was never prepared.
        if "could not find data" not in str(err):
            raise
        default_dir = os.environ.get("TFDS_DATA_DIR", tfds.core.constants.DATA_DIR)
        where = data_dir or default_dir
        raise DataError(
            f"{spec}: TFDS dataset {name!r} was not found under data_dir {where} "
            f"(downloads are off). Prepare it where there is internet with "
            f"`tfds build {name} --data_dir={where}`, copy that folder here and "
            f"pass --config.data.tfds_data_dir={where}"
        ) from err
    _check_columns(spec, "feature", list(info.features.keys()), columns)
    classes = info.features[columns.label_column] if columns.label_column else None
    if not isinstance(classes, tfds.features.ClassLabel):
        classes = None
    wanted = [key for key in columns if key]
    dataset = dataset.map(lambda example: {key: example[key] for key in wanted})
    records = []
    for number, example in enumerate(tfds.as_numpy(dataset)):
        values = [
            _tfds_value(example.get(key), key, flag, classes)
            for flag, key in columns._asdict().items()
        ]
        records.append(_record(f"tfds:{name}:{split}:{number}", columns, values))
    return records


def _parse_tfds_spec(spec):
    """Splits "tfds:NAME[:VERSION][:SPLIT]" into (NAME[:VERSION], SPLIT)."""
    parts = spec[len("tfds:") :].split(":")
    name = parts.pop(0)
    if parts and _TFDS_VERSION.fullmatch(parts[0]):
        name += ":" + parts.pop(0)
    if not name:
        raise DataError(f"unsupported data source {spec!r}: {_EXPECTED}")
    return name, ":".join(parts) or "train"


def _tfds_value(value, name, flag, classes):
    """Returns (str or None, problem) for one numpy feature value.

    A ClassLabel index becomes its class name; -1 is how TFDS marks an
    unlabelled example (e.g. the GLUE test splits).
    """
    if value is None or isinstance(value, bytes):
        return decode(value)
    if flag != "label_column":
        return None, f"feature {name!r} must be a string, found {value.dtype}"
    if value.ndim != 0 or value.dtype.kind not in "iu":
        return None, "label must be a string or integer"
    if classes is None:
        return str(int(value)), ""
    if not 0 <= value < classes.num_classes:
        return None, f"missing label in column {name!r} (value {int(value)})"
    return classes.int2str(int(value)), ""


def _check_columns(source, kind, found, columns):
    """Raises DataError when a selected column is not among `found`."""
    for flag, name in columns._asdict().items():
        if name and name not in found:
            raise DataError(
                f"{source}: no {kind} {name!r} (selected by --config.data.{flag}); "
                f"{kind}s found: {found}"
            )


def _record(origin, columns, values, problem=""):
    """Builds a Record from (value, problem) pairs for text, pair and label.

    Keeps the first problem; else marks the first missing value. Labels are
    stripped (they are names); texts are kept as written.
    """
    (text, _), (pair, _), (label, _) = values
    if isinstance(label, str):
        label = label.strip()
    problem = problem or next((p for _, p in values if p), "")
    checks = zip(columns, (text, pair, label), ("text", "text", "label"))
    for name, value, what in checks:
        if name and not problem and (value is None or not value.strip()):
            problem = f"missing {what} in column {name!r}"
    return Record(
        text=text,
        label=label if columns.label_column else None,
        text_pair=pair if columns.text_pair_column else None,
        origin=origin,
        problem=problem,
    )


_READERS = {
    ".csv": _read_delimited,
    ".tsv": _read_delimited,
    ".jsonl": _read_jsonl,
    ".json": _read_jsonl,
    ".txt": _read_text,
}
