"""Tests of tfllm.data.sources: every format, every kind of bad row."""

import json

import pytest

from tfllm.data import sources
from tfllm.data.records import Record
from tfllm.errors import DataError


def _write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return str(path)


def test_csv_reads_text_label_and_origin(tmp_path):
    content = "\ufefftext,label\nhello there,greet\n\nbye, farewell \n"
    path = _write(tmp_path, "d.csv", content)
    records = sources.read_records(path)
    assert records == [
        Record("hello there", label="greet", origin=f"{path}:2"),
        Record("bye", label="farewell", origin=f"{path}:4"),
    ]


def test_tsv_reads_pairs_with_chosen_columns(tmp_path):
    path = _write(tmp_path, "d.tsv", "id\tq\tp\ty\n1\tIs it?\tIt is.\tyes\n")
    records = sources.read_records(
        path, text_column="q", text_pair_column="p", label_column="y"
    )
    assert records == [Record("Is it?", "yes", "It is.", origin=f"{path}:2")]


def test_csv_quoted_newlines_shift_line_numbers(tmp_path):
    content = 'text,label\n"two\nlines",a\n"three\n\nlines",b\nlast,\n'
    path = _write(tmp_path, "d.csv", content)
    records = sources.read_records(path)
    assert [(r.text, r.origin, r.problem) for r in records] == [
        ("two\nlines", f"{path}:2", ""),
        ("three\n\nlines", f"{path}:4", ""),
        ("last", f"{path}:7", "missing label in column 'label'"),
    ]


def test_csv_bad_rows_are_marked_not_dropped(tmp_path):
    content = b"text,label,pair\n  ,a,p\nx,b,\ncaf\xe9,c,p\nonly,two\nok,d,p\n"
    path = _write(tmp_path, "d.csv", content)
    records = sources.read_records(path, text_pair_column="pair")
    assert [(r.origin, r.problem) for r in records] == [
        (f"{path}:2", "missing text in column 'text'"),
        (f"{path}:3", "missing text in column 'pair'"),
        (f"{path}:4", "undecodable bytes (not UTF-8)"),
        (f"{path}:5", "expected 3 fields, found 2"),
        (f"{path}:6", ""),
    ]
    assert records[2].text == "caf\ufffd"


def test_csv_without_labels(tmp_path):
    path = _write(tmp_path, "d.csv", "text\nhello\n")
    assert sources.read_records(path, label_column="") == [
        Record("hello", origin=f"{path}:2")
    ]


def test_csv_missing_column_names_file_column_flag_and_header(tmp_path):
    path = _write(tmp_path, "d.csv", "sentence,label\nhi,a\n")
    with pytest.raises(DataError) as info:
        sources.read_records(path)
    message = str(info.value)
    assert path in message
    assert "'text'" in message
    assert "--config.data.text_column" in message
    assert "['sentence', 'label']" in message


def test_jsonl_reads_records_and_marks_bad_lines(tmp_path):
    lines = [
        json.dumps({"text": "hi", "label": "greet"}),
        "",
        json.dumps({"text": "n", "label": 3}),
        "{not json",
        "[1, 2]",
        json.dumps({"text": "t", "label": True}),
        json.dumps({"text": "t", "label": 1.5}),
        json.dumps({"text": 7, "label": "a"}),
        json.dumps({"label": "a"}),
        json.dumps({"text": "t", "label": ""}),
    ]
    content = ("\n".join(lines) + "\n").encode() + b'{"text": "\xff", "label": "a"}\n'
    path = _write(tmp_path, "d.jsonl", content)
    records = sources.read_records(path)
    got = [(r.origin.rsplit(":", 1)[1], r.text, r.label, r.problem) for r in records]
    assert got[:2] == [("1", "hi", "greet", ""), ("3", "n", "3", "")]
    problems = [(line, problem) for line, _, _, problem in got[2:]]
    assert problems[0][0] == "4" and problems[0][1].startswith("invalid JSON: ")
    assert problems[1] == ("5", "invalid JSON: expected an object, found list")
    assert problems[2:] == [
        ("6", "label must be a string or integer"),
        ("7", "label must be a string or integer"),
        ("8", "text in column 'text' must be a string, found int"),
        ("9", "missing text in column 'text'"),
        ("10", "missing label in column 'label'"),
        ("11", "undecodable bytes (not UTF-8)"),
    ]


def test_json_array_file_is_an_error(tmp_path):
    path = _write(tmp_path, "d.json", '[\n  {"text": "a"}\n]\n')
    with pytest.raises(DataError, match="expected JSON Lines"):
        sources.read_records(path)


def test_txt_fasttext_labels(tmp_path):
    content = (
        "__label__sports  Great match! \n\nno label here\n"
        "__label__a __label__b two labels\n__label__x\n"
    )
    path = _write(tmp_path, "d.txt", content)
    records = sources.read_records(path)
    assert records == [
        Record("Great match!", "sports", origin=f"{path}:1"),
        Record("no label here", None, origin=f"{path}:3"),
        Record(
            "two labels",
            "a",
            origin=f"{path}:4",
            problem="several labels (multi-label is not supported)",
        ),
        Record("", "x", origin=f"{path}:5", problem="missing text"),
    ]


def test_relative_paths_resolve_against_base_dir(tmp_path):
    _write(tmp_path, "d.txt", "hello\n")
    records = sources.read_records("d.txt", base_dir=str(tmp_path))
    assert records[0].text == "hello"


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="data file not found: .*nope.csv"):
        sources.read_records(str(tmp_path / "nope.csv"))


def test_unsupported_suffix():
    with pytest.raises(DataError) as info:
        sources.read_records("x.parquet")
    assert str(info.value) == (
        "unsupported data file 'x.parquet': expected .csv, .tsv, .jsonl, .txt, "
        "'default' or 'tfds:NAME[:SPLIT]'"
    )


def test_default_spec_reads_the_topic_corpus():
    records = sources.read_records("default")
    assert records[0].text == "What is AI?" and records[0].label == "ai"


def test_tfds_spec_parsing():
    parse = sources._parse_tfds_spec  # pylint: disable=protected-access
    assert parse("tfds:glue/sst2") == ("glue/sst2", "train")
    assert parse("tfds:imdb_reviews:test") == ("imdb_reviews", "test")
    assert parse("tfds:glue/sst2:2.0.0:validation") == ("glue/sst2:2.0.0", "validation")
    assert parse("tfds:mnist:train[:10%]") == ("mnist", "train[:10%]")


def test_tfds_maps_class_labels_to_names():
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

    with tfds.testing.mock_data(num_examples=5):
        records = sources.read_records("tfds:glue/sst2", text_column="sentence")
    assert len(records) == 5
    assert {r.label for r in records} <= {"negative", "positive"}
    assert all(isinstance(r.text, str) and not r.problem for r in records)
    assert records[1].origin == "tfds:glue/sst2:train:1"


def test_tfds_missing_feature_names_the_features():
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

    with tfds.testing.mock_data(num_examples=1):
        with pytest.raises(DataError) as info:
            sources.read_records("tfds:glue/sst2")
    message = str(info.value)
    assert "'text'" in message and "--config.data.text_column" in message
    assert "'sentence'" in message and "'idx'" in message


def test_tfds_not_prepared_says_how_to_prepare(tmp_path):
    with pytest.raises(DataError) as info:
        sources.read_records(
            "tfds:glue/sst2", text_column="sentence", data_dir=str(tmp_path)
        )
    message = str(info.value)
    assert f"not found under data_dir {tmp_path}" in message
    assert f"tfds build glue/sst2 --data_dir={tmp_path}" in message


def test_tfds_unknown_dataset(tmp_path):
    with pytest.raises(DataError, match="no TFDS dataset named 'no_such_dataset'"):
        sources.read_records("tfds:no_such_dataset", data_dir=str(tmp_path))
