"""Language-model data: documents and pairs from each format, bad rows named, split by hash."""

import json

import pytest

from tests.helpers import write_csv
from tfllm.configs import gpt_lm
from tfllm.data import documents
from tfllm.errors import DataError


def data_config(**overrides):
    config = gpt_lm.get_config("smoke").data
    for key, value in overrides.items():
        config[key] = value
    return config


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_txt_documents_are_separated_by_blank_lines(tmp_path):
    path = tmp_path / "book.txt"
    path.write_text("First line\nsecond line\n\n\nNext document\n  \nLast\n", encoding="utf-8")
    records = documents.read(str(path), data_config(), pairs=False)
    assert [r.text for r in records] == ["First line\nsecond line", "Next document", "Last"]
    assert [r.origin for r in records] == [f"{path}:1", f"{path}:5", f"{path}:7"]


def test_non_utf8_bytes_are_reported_with_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"good text\n\nfine\nbad \xff\xfe bytes\n\nmore good text\n")
    with pytest.raises(DataError, match=rf"{path}:4: undecodable bytes"):
        documents.prepare(data_config(train=str(path)))


def test_jsonl_with_prompt_column_is_read_as_pairs(tmp_path):
    rows = [{"prompt": f"question {i}", "response": f"answer {i}"} for i in range(30)]
    path = write_jsonl(tmp_path / "qa.jsonl", rows)
    examples = documents.prepare(data_config(train=path))
    assert examples.pairs and examples.report["format"] == "pairs"
    every = examples.train + examples.validation
    assert sorted((r.text, r.text_pair) for r in every) == sorted(
        (r["prompt"], r["response"]) for r in rows)


def test_jsonl_without_prompt_column_is_documents(tmp_path):
    path = write_jsonl(tmp_path / "docs.jsonl", [{"text": f"document {i}"} for i in range(30)])
    examples = documents.prepare(data_config(train=path))
    assert not examples.pairs
    assert all(r.text_pair is None for r in examples.train)


def test_pairs_csv_without_response_column_names_the_flag(tmp_path):
    path = write_csv(tmp_path / "qa.csv", [("q", "a")], header=("prompt", "answer"))
    with pytest.raises(DataError, match="no column 'response'.*--config.data.response_column"):
        documents.prepare(data_config(train=path))


def test_missing_response_is_a_bad_row(tmp_path):
    rows = [{"prompt": f"q{i}", "response": f"a{i}"} for i in range(10)]
    rows.append({"prompt": "orphan", "response": ""})
    path = write_jsonl(tmp_path / "qa.jsonl", rows)
    with pytest.raises(DataError, match=r"qa.jsonl:11: missing text in column 'response'"):
        documents.prepare(data_config(train=path))


def test_usable_refuses_blank_prompts_and_responses():
    from tfllm.data.records import Record  # pylint: disable=import-outside-toplevel
    good, bad = documents.usable([Record(text="q", text_pair="a"), Record(text="q", text_pair=" "),
                                  Record(text=" ", text_pair="a"), Record(text="doc")])
    assert [r.text for r in good] == ["q", "doc"]
    assert [r.problem for r in bad] == ["missing response", "missing text"]


def test_default_corpus_is_dialog_pairs_split_without_leaks():
    examples = documents.prepare(data_config())
    assert examples.pairs
    train = {(r.text, r.text_pair) for r in examples.train}
    assert not train & {(r.text, r.text_pair) for r in examples.validation}
    assert len(examples.validation) > 0.05 * len(examples.train)


def test_txt_refuses_the_pairs_format(tmp_path):
    path = tmp_path / "book.txt"
    path.write_text("text\n", encoding="utf-8")
    with pytest.raises(DataError, match="--config.data.format=documents"):
        documents.prepare(data_config(train=str(path), format="pairs"))
