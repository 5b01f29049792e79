import pytest

from tests.helpers import smoke_config, write_csv
from tfllm.data import examples
from tfllm.data.records import Record
from tfllm.errors import DataError


def prepare_csv(tmp_path, rows, **overrides):
    config = smoke_config(train=write_csv(tmp_path / "d.csv", rows), **overrides)
    return examples.prepare(config.data)


def many(n=40):
    return [(f"text number {i}", "even" if i % 2 == 0 else "odd") for i in range(n)]


def test_duplicates_are_removed_after_cleaning_and_reported(tmp_path):
    rows = many() + [("TEXT   number 0", "even"), ("text number 0", "even")]
    result = prepare_csv(tmp_path, rows, validation_fraction=0.25)
    assert result.report["duplicates_removed"] == 2
    assert result.report["train_examples"] + result.report["validation_examples"] == 40


def test_same_text_with_another_label_is_kept(tmp_path):
    result = prepare_csv(tmp_path, many() + [("text number 0", "odd")])
    assert result.report["duplicates_removed"] == 0


def test_split_is_seeded_stable_and_keeps_copies_together(tmp_path):
    rows = many(200)
    first = prepare_csv(tmp_path, rows, validation_fraction=0.2)
    again = prepare_csv(tmp_path, rows, validation_fraction=0.2)
    other = prepare_csv(tmp_path, rows, validation_fraction=0.2, split_seed=1)
    assert [r.text for r in first.validation] == [r.text for r in again.validation]
    assert [r.text for r in first.validation] != [r.text for r in other.validation]
    assert 20 <= len(first.validation) <= 60
    # A text that differs only in case goes to the same side as its twin.
    assert examples.in_validation((b"x", b""), 0.5, 0) == examples.in_validation((b"x", b""), 0.5, 0)


def test_labels_are_sorted_and_integer_labels_sort_numerically(tmp_path):
    rows = [(f"t {i}", str(i % 12)) for i in range(120)]
    assert prepare_csv(tmp_path, rows).labels == [str(i) for i in range(12)]
    assert prepare_csv(tmp_path, many()).labels == ["even", "odd"]


def test_bad_rows_over_the_limit_stop_the_run_naming_file_and_line(tmp_path):
    rows = many() + [("", "even")]
    with pytest.raises(DataError, match=r"1 of 41 rows are bad.*d\.csv:42: missing text"):
        prepare_csv(tmp_path, rows)


def test_bad_rows_under_the_limit_are_reported_not_hidden(tmp_path):
    rows = many() + [("", "even"), ("no label here", "")]
    result = prepare_csv(tmp_path, rows, max_bad_fraction=0.1)
    assert result.report["bad_rows"] == 2
    assert result.report["bad_row_examples"][0].endswith("d.csv:42: missing text in column 'text'")
    assert "d.csv:43" in result.report["bad_row_examples"][1]
    text = examples.describe(result.report)
    assert "42 rows read, 2 bad" in text and "d.csv:42: missing text" in text


def test_validation_file_with_an_unknown_label_is_a_bad_row(tmp_path):
    valid = write_csv(tmp_path / "v.csv", [("a text", "even"), ("b text", "prime")])
    with pytest.raises(DataError, match=r"v\.csv:3: label 'prime' not in the training labels"):
        prepare_csv(tmp_path, many(), validation=valid)


def test_a_single_label_is_an_error(tmp_path):
    with pytest.raises(DataError, match="at least 2 distinct labels"):
        prepare_csv(tmp_path, [(f"t {i}", "same") for i in range(30)])


def test_usable_names_why_each_record_is_bad():
    records = [Record("a", "x"), Record("b", None), Record(None, "x", problem="missing text"),
               Record("c", "y")]
    good, bad = examples.usable(records, {"x"}, "the model's labels")
    assert [r.text for r in good] == ["a"]
    assert [r.problem for r in bad] == ["missing label", "missing text",
                                        "label 'y' not in the model's labels"]
