import pytest

from tfllm.data import labels
from tfllm.errors import DataError


def test_label_file_round_trip_keeps_order_and_unicode(tmp_path):
    path = str(tmp_path / "labels.txt")
    labels.save_labels(["négatif", "positif", "10"], path)
    assert labels.load_labels(path) == ["négatif", "positif", "10"]


def test_a_label_file_with_one_label_is_rejected(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("only\n", encoding="utf-8")
    with pytest.raises(DataError, match="labels.txt: expected at least 2 labels, found 1"):
        labels.load_labels(str(path))


def test_integer_labels_sort_numerically_others_alphabetically():
    assert labels.label_vocabulary(["10", "2", "1"]) == ["1", "2", "10"]
    assert labels.label_vocabulary(["b", "10", "a"]) == ["10", "a", "b"]
