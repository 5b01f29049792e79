"""The label vocabulary: label strings <-> class ids, saved as labels.txt."""

from tfllm import damaged
from tfllm.data.line_files import write_lines
from tfllm.errors import DataError

LABELS_FILE = "a tfllm labels.txt: UTF-8, one label per line, each once"


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
    """Reads labels.txt written by `save_labels`: whole lines (it ends with a newline), no
    empty or repeated label."""
    labels = damaged.read_lines(path, LABELS_FILE, whole_lines=True)
    damaged.check_entries(path, labels, "label", LABELS_FILE)
    if len(labels) < 2:
        raise DataError(f"{path}: expected at least 2 labels, found {len(labels)}")
    return labels
