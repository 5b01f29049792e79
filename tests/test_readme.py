"""The README stays true: its reference lists every config field, CI runs its test command."""

import os
import re

from tfllm.configs import bert_classifier

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


def test_reference_table_lists_every_field_with_its_default():
    rows = dict(re.findall(r"^\| `([\w.]+)` \| `?([^`|]*)`? \|", read("README.md"), re.M))
    for field, value in flatten(bert_classifier.get_config()):
        assert field in rows, f"README reference lacks {field}"
        shown = rows[field].strip()
        expected = '""' if value == "" else str(value)
        assert shown == expected or float(shown) == value, (field, shown, value)


def test_ci_runs_the_readme_test_command():
    test_command = re.search(r"^(python3\.11 -m venv .*pytest.*)$", read("README.md"), re.M)
    assert test_command, "README lacks the test command"
    assert test_command.group(1) in read(".ci/run").splitlines()
