"""The default corpus: the English dialogs of the `chatterbot-corpus` package.

It is a runtime dependency (BSD, data only), so `tfllm train` with no flags
works offline from any directory: topic classification for BERT (one record
per utterance, labelled with its topic file) and dialog language modelling
for GPT (one record per prompt/response pair of consecutive turns).

Each `chatterbot_corpus/data/english/TOPIC.yml` file holds
`conversations: [[turn, turn, ...], ...]`. Rows are never dropped: a bad turn
is returned with `problem` set, like every source. One dialog (trivia.yml,
dialog 14) lacks its "- ", so YAML reads its two turns as one string; such a
string is read as a one-turn dialog: its text is usable, and marking it bad
would stop the default run, which allows no bad rows.
"""

import functools
import importlib.util
import os

import yaml

from tfllm.data.records import Record
from tfllm.errors import DataError

# How origins name the files, independent of where the package is installed.
_RELATIVE_DIR = "chatterbot_corpus/data/english"


def corpus_dir():
    """Returns the directory holding the English topic files.

    Located with `find_spec` so the package itself is never imported.

    Raises:
        DataError: the package is not installed, or its data is missing.
    """
    spec = importlib.util.find_spec("chatterbot_corpus")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "the default corpus needs the chatterbot-corpus package, which is "
            "not installed: pip install chatterbot-corpus"
        )
    package_dir = list(spec.submodule_search_locations)[0]
    path = os.path.join(package_dir, "data", "english")
    if not os.path.isdir(path):
        raise DataError(
            f"chatterbot-corpus is installed but {path} is missing: "
            "pip install --force-reinstall chatterbot-corpus"
        )
    return path


def topic_records():
    """Returns one Record per utterance, labelled with its topic.

    The topic is the file stem ("ai", "trivia", ...); origin is
    "chatterbot_corpus/data/english/ai.yml:dialog 3 turn 2" (1-based).
    Duplicates are kept: de-duplication is the caller's decision.
    """
    records = []
    for topic, dialogs in _load_topics():
        for number, turns in enumerate(dialogs, 1):
            origin = f"{_RELATIVE_DIR}/{topic}.yml:dialog {number}"
            for turn, value in enumerate(turns, 1):
                text, problem = _utterance(value)
                records.append(
                    Record(
                        text=text,
                        label=topic,
                        origin=f"{origin} turn {turn}",
                        problem=problem,
                    )
                )
    return records


def dialog_pairs():
    """Returns one Record per pair of consecutive turns (i, i+1) of a dialog.

    text is the prompt turn, text_pair the response turn, label the topic;
    origin names the prompt turn. Used for dialog language modelling.
    """
    records = []
    for topic, dialogs in _load_topics():
        for number, dialog in enumerate(dialogs, 1):
            origin = f"{_RELATIVE_DIR}/{topic}.yml:dialog {number}"
            turns = [_utterance(value) for value in dialog]
            for turn, (prompt, response) in enumerate(zip(turns, turns[1:]), 1):
                records.append(
                    Record(
                        text=prompt[0],
                        text_pair=response[0],
                        label=topic,
                        origin=f"{origin} turn {turn}",
                        problem=prompt[1] or response[1],
                    )
                )
    return records


def _utterance(value):
    """Returns (text, problem) for one YAML turn.

    YAML turns unquoted numbers and booleans into int/float/bool; str() gives
    them back as text. None or blank text is kept and marked.
    """
    if value is None:
        return None, "missing text"
    text = value if isinstance(value, str) else str(value)
    return text, "" if text.strip() else "missing text"


@functools.lru_cache(maxsize=None)
def _load_topics():
    """Returns ((topic, dialogs), ...) for every topic file, sorted by topic.

    Cached: the files are read-only package data, and the Records built from
    them are frozen, so parsing them once per process is enough.
    """
    directory = corpus_dir()
    names = sorted(name for name in os.listdir(directory) if name.endswith(".yml"))
    if not names:
        raise DataError(f"{directory}: no .yml topic files found")
    return tuple(
        (name[: -len(".yml")], _read_dialogs(os.path.join(directory, name)))
        for name in names
    )


def _read_dialogs(path):
    """Returns the dialogs of one topic file, each a tuple of turns."""
    with open(path, encoding="utf-8") as f:
        try:
            document = yaml.safe_load(f)
        except yaml.YAMLError as err:
            raise DataError(f"{path}: not valid YAML: {err}") from err
    dialogs = document.get("conversations") if isinstance(document, dict) else None
    if not isinstance(dialogs, list):
        raise DataError(
            f"{path}: expected a mapping with a 'conversations' list of dialogs"
        )
    # A dialog that is not a list is one turn (see the module docstring).
    return tuple(
        tuple(dialog) if isinstance(dialog, list) else (dialog,) for dialog in dialogs
    )
