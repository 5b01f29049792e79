"""The label vocabulary: label strings <-> class ids, saved as labels.txt."""

from tfllm.data.line_files import read_lines, write_lines
from tfllm.errors import DataError


def label_vocabulary(labels):
    """Returns the sorted distinct labels; integer labels sort numerically ("2" < "10")."""
    distinct = set(labels)
    if all(_is_int(label) for label in distinct):
        return sorted(distinct, key=int)
    return sorted(distinct)


def _is_int(text):
    try:
        int(text)
    except ValueError:
        return False
    return True


def save_labels(labels, path):
    """Writes one label per line; the line number is the class id."""
    write_lines(path, labels)


def load_labels(path):
    """Reads labels.txt written by `save_labels`."""
    labels = read_lines(path)
    if len(labels) < 2:
        raise DataError(f"{path}: expected at least 2 labels, found {len(labels)}")
    return labels
