"""The package's import rules (docs/architecture.md), read from the source with `ast`.

- serving/ never imports training/;
- data/ never imports models/, training/, serving/ or tasks/;
- a task folder never imports another task's folder;
- nothing in the library imports cli/;
- only the registry branches on a task's name.
"""

import ast
import os
import re
import shutil

import pytest

from tests import helpers

PACKAGE = os.path.join(helpers.REPO, "tfllm")


def modules(root=PACKAGE):
    """(dotted name, path) of every module of the package at `root` (named tfllm)."""
    for directory, _, files in os.walk(root):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                relative = os.path.relpath(path, os.path.dirname(root))
                yield relative[:-3].replace(os.sep, ".").removesuffix(".__init__"), path


def imported(path):
    """The tfllm modules `path` imports, anywhere in it (function bodies too), as dotted
    names; `from tfllm.x import y` counts as tfllm.x and tfllm.x.y. (The package uses
    absolute imports only; `test_no_relative_imports` keeps it so.)"""
    names = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read(), path)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name == "tfllm" or name.startswith("tfllm.")}


def relative_imports(path):
    return [node.lineno for node in ast.walk(ast.parse(open(path, encoding="utf-8").read()))
            if isinstance(node, ast.ImportFrom) and node.level]


def layer(module):
    """'serving', 'data', 'tasks.<name>', 'cli', ... : the part of the package a module is in."""
    parts = module.split(".")
    if len(parts) < 2:
        return ""
    if parts[1] == "tasks" and len(parts) > 3:  # a module inside a task's folder
        return f"tasks.{parts[2]}"
    return parts[1]


def forbidden(importer, target):
    """Why `importer` may not import `target` (dotted names), or None."""
    source, destination = layer(importer), layer(target)
    if source == "serving" and destination == "training":
        return "serving/ never imports training/"
    if source == "data" and destination in ("models", "training", "serving", "tasks") or (
            source == "data" and destination.startswith("tasks.")):
        return "data/ never imports models/, training/, serving/ or tasks/"
    if (source.startswith("tasks.") and destination.startswith("tasks.")
            and source != destination):
        return "a task never imports another task's folder"
    if destination == "cli" and source != "cli":
        return "nothing in the library imports cli/"
    return None


def violations(root=PACKAGE):
    """'module imports target: rule' for each import of the package at `root` that breaks
    a rule."""
    found = {}  # one line per importing module and imported part of the package
    for module, path in modules(root):
        for target in sorted(imported(path)):
            if reason := forbidden(module, target):
                found.setdefault((module, layer(target)), f"{module} imports {target}: {reason}")
    return sorted(found.values())


def test_the_package_keeps_its_import_rules():
    assert violations() == []


def test_no_relative_imports():
    found = [f"{path}:{line}" for _, path in modules() for line in relative_imports(path)]
    assert found == []


@pytest.mark.parametrize("module, statement, rule", [
    ("serving/extra.py", "from tfllm.training import run", "serving/ never imports training/"),
    ("data/extra.py", "from tfllm.models import bert", "data/ never imports"),
    ("data/extra.py", "import tfllm.tasks.tagging.features", "data/ never imports"),
    ("tasks/tagging/extra.py", "from tfllm.tasks.span_qa import decoding",
     "a task never imports another task's folder"),
    ("tasks/seq2seq/extra.py", "def f():\n    from tfllm.tasks.language_model import task",
     "a task never imports another task's folder"),
    ("models/extra.py", "from tfllm.cli import app", "nothing in the library imports cli/"),
])
def test_a_forbidden_import_is_caught(tmp_path, module, statement, rule):
    """A copy of the package with one forbidden import added fails the rule it breaks."""
    root = tmp_path / "tfllm"
    shutil.copytree(PACKAGE, root, ignore=shutil.ignore_patterns("__pycache__"))
    target = root / module
    target.write_text(statement + "\n")
    found = violations(str(root))
    assert len(found) == 1 and rule in found[0], found


def test_only_the_registry_branches_on_a_task_name():
    pattern = re.compile(r"config\.task ==|task == \"|\.task in \(")
    branches = [f"{os.path.relpath(path, helpers.REPO)}:{number}: {line.strip()}"
                for module, path in modules()
                for number, line in enumerate(open(path, encoding="utf-8"), 1)
                if pattern.search(line) and module != "tfllm.tasks.registry"]
    assert branches == []
