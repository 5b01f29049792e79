"""The README and docs/ stay true: the references list every config field, CI runs the README's
test command, every relative link resolves, and the README stays short.

Where the tables live: docs/config.md's "Configuration reference" holds configs/bert_classifier.py
(the default) and configs/gpt_lm.py; each other task's page holds its own
"## `configs/NAME.py` fields" table (TASK_PAGES).
"""

import glob
import os
import re

import pytest

from tfllm.configs import bert_classifier, bert_qa, bert_tagger, gpt_lm, seq2seq

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASK_PAGES = {"bert_tagger": "docs/tagging.md", "bert_qa": "docs/span_qa.md",
              "seq2seq": "docs/seq2seq.md"}
README_MAX_LINES = 260
MARKDOWN = ["README.md"] + sorted(
    os.path.relpath(path, REPO) for path in glob.glob(os.path.join(REPO, "docs", "*.md")))


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
    """{field: default as shown} from the reference tables in `section`."""
    return dict(re.findall(r"^\| `([\w.]+)` \| `?([^`|]*)`? \|", section, re.M))


def check_default(field, shown, value):
    shown = shown.strip()
    expected = '""' if value == "" else str(value).encode("unicode_escape").decode()
    assert shown == expected or float(shown) == value, (field, shown, value)


def test_reference_table_lists_every_field_with_its_default():
    reference = read("docs/config.md").split("## Configuration reference")[1]
    classifier_part, gpt_part = reference.split("### `configs/gpt_lm.py`")
    classifier_rows, gpt_rows = reference_rows(classifier_part), reference_rows(gpt_part)
    classifier = dict(flatten(bert_classifier.get_config()))
    for field, value in classifier.items():
        assert field in classifier_rows, f"docs/config.md reference lacks {field}"
        check_default(field, classifier_rows[field], value)
    for field, value in flatten(gpt_lm.get_config()):
        if field in gpt_rows:
            check_default(field, gpt_rows[field], value)
        else:  # shared with the classifier: same default, listed there
            assert classifier.get(field, object()) == value, f"gpt_lm reference lacks {field}"


@pytest.mark.parametrize("config", [bert_tagger, bert_qa, seq2seq], ids=lambda m: m.__name__)
def test_task_reference_lists_every_field_with_its_default(config):
    """Each task config has its own table (`## `configs/NAME.py` fields`) on its page."""
    name = config.__name__.rsplit(".", 1)[-1]
    page = TASK_PAGES[name]
    section = read(page).split(f"## `configs/{name}.py` fields")[1].split("\n## ")[0]
    rows = reference_rows(section)
    for field, value in flatten(config.get_config()):
        assert field in rows, f"{page}'s configs/{name}.py reference lacks {field}"
        check_default(field, rows[field], value)


def test_ci_runs_the_readme_test_command():
    test_command = re.search(r"^(python3\.11 -m venv .*pytest.*)$", read("README.md"), re.M)
    assert test_command, "README lacks the test command"
    assert test_command.group(1) in read(".ci/run").splitlines()


def test_readme_is_short():
    lines = len(read("README.md").splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; the depth goes in docs/"


def without_code_blocks(text):
    """The text with fenced code blocks blanked (line numbers kept): no links or headings there."""
    lines, fenced = [], False
    for line in text.split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            line = ""
        lines.append("" if fenced else line)
    return "\n".join(lines)


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(name):
    found = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#* *$", without_code_blocks(read(name)), re.M):
        base, n = slug(heading), 1
        anchor = base
        while anchor in found:  # GitHub numbers repeated headings: x, x-1, x-2
            anchor, n = f"{base}-{n}", n + 1
        found.add(anchor)
    return found


def links(name):
    """(line, target) of every Markdown link outside code, link texts over line breaks too."""
    text = re.sub(r"`[^`\n]+`", "", without_code_blocks(read(name)))
    for match in re.finditer(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text):
        yield text.count("\n", 0, match.start()) + 1, match.group(1)


def test_markdown_files_are_found():
    assert "docs/config.md" in MARKDOWN and set(TASK_PAGES.values()) <= set(MARKDOWN), MARKDOWN


@pytest.mark.parametrize("name", MARKDOWN)
def test_relative_links_point_at_existing_files_and_headings(name):
    broken = []
    for line, target in links(name):
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):  # https:, mailto: ...: not ours
            continue
        path, _, anchor = target.partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(name), path)) if path else name
        if not os.path.exists(os.path.join(REPO, resolved)):
            broken.append(f"{name}:{line}: {target}: no file {resolved}")
        elif anchor and resolved.endswith(".md") and anchor not in anchors(resolved):
            broken.append(f"{name}:{line}: {target}: no heading #{anchor} in {resolved}")
    assert not broken, "\n".join(broken)


def test_readme_links_every_docs_page():
    targets = {target.partition("#")[0] for _, target in links("README.md")}
    missing = [name for name in MARKDOWN[1:] if name not in targets]
    assert not missing, f"README.md's map of docs/ lacks {missing}"
