"""The README stays true: its reference lists every config field, CI runs its test command."""

import os
import re

import pytest

from tfllm.configs import bert_classifier, bert_qa, bert_tagger, gpt_lm, seq2seq

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(name):
    with open(os.path.join(REPO, name), encoding="utf-8") as f:
        return f.read()


def flatten(config, prefix=""):
    for key, value in config.items():
        if hasattr(value, "items"):
            yield from flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def reference_rows(section):
    """{field: default as shown} from the README's reference tables in `section`."""
    return dict(re.findall(r"^\| `([\w.]+)` \| `?([^`|]*)`? \|", section, re.M))


def check_default(field, shown, value):
    shown = shown.strip()
    expected = '""' if value == "" else str(value).encode("unicode_escape").decode()
    assert shown == expected or float(shown) == value, (field, shown, value)


def test_reference_table_lists_every_field_with_its_default():
    reference = read("README.md").split("## Configuration reference")[1]
    classifier_part, gpt_part = reference.split("### `configs/gpt_lm.py`")
    classifier_rows, gpt_rows = reference_rows(classifier_part), reference_rows(gpt_part)
    classifier = dict(flatten(bert_classifier.get_config()))
    for field, value in classifier.items():
        assert field in classifier_rows, f"README reference lacks {field}"
        check_default(field, classifier_rows[field], value)
    for field, value in flatten(gpt_lm.get_config()):
        if field in gpt_rows:
            check_default(field, gpt_rows[field], value)
        else:  # shared with the classifier: same default, listed there
            assert classifier.get(field, object()) == value, f"gpt_lm reference lacks {field}"


@pytest.mark.parametrize("config", [bert_tagger, bert_qa, seq2seq], ids=lambda m: m.__name__)
def test_task_reference_lists_every_field_with_its_default(config):
    """Each task config has its own table (`#### `configs/NAME.py` fields`) under Use 1."""
    name = config.__name__.rsplit(".", 1)[-1]
    section = read("README.md").split(f"#### `configs/{name}.py` fields")[1].split("\n### ")[0]
    rows = reference_rows(section)
    for field, value in flatten(config.get_config()):
        assert field in rows, f"README's configs/{name}.py reference lacks {field}"
        check_default(field, rows[field], value)


def test_ci_runs_the_readme_test_command():
    test_command = re.search(r"^(python3\.11 -m venv .*pytest.*)$", read("README.md"), re.M)
    assert test_command, "README lacks the test command"
    assert test_command.group(1) in read(".ci/run").splitlines()
