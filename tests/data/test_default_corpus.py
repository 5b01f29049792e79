"""Tests of tfllm.data.default_corpus against the installed chatterbot-corpus."""

import collections
import os

import pytest

from tfllm.data import default_corpus
from tfllm.errors import DataError

# trivia.yml dialog 14 lacks a "- ", so YAML reads it as one string, which is
# read as one turn. (Iterating that string's 88 characters as if they were
# turns is what gives the 4,419 "utterances" sometimes quoted.)
_ONE_STRING = "chatterbot_corpus/data/english/trivia.yml:dialog 14 turn 1"


def test_corpus_dir_holds_21_topic_files():
    names = [n for n in os.listdir(default_corpus.corpus_dir()) if n.endswith(".yml")]
    assert len(names) == 21


def test_topic_records_counts():
    records = default_corpus.topic_records()
    topics = collections.Counter(r.label for r in records)
    assert len(topics) == 21
    assert len(records) == 4332  # 4,331 turns in lists + 1 string dialog
    assert not [r for r in records if r.problem]  # the default run allows none
    (one_string,) = [r for r in records if r.origin == _ONE_STRING]
    assert one_string.text.startswith("In a game of bingo")
    assert one_string.label == "trivia"


def test_first_record():
    first = default_corpus.topic_records()[0]
    assert first.text == "What is AI?"
    assert first.label == "ai"
    assert first.origin == "chatterbot_corpus/data/english/ai.yml:dialog 1 turn 1"
    assert first.problem == ""


def test_turns_that_yaml_reads_as_numbers_become_strings():
    utterance = default_corpus._utterance  # pylint: disable=protected-access
    assert utterance(1984) == ("1984", "")
    assert utterance(None) == (None, "missing text")
    assert utterance("  ") == ("  ", "missing text")


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(default_corpus.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match="pip install chatterbot-corpus"):
        default_corpus.corpus_dir()


def test_dialog_pairs():
    pairs = default_corpus.dialog_pairs()
    first = pairs[0]
    assert first.text == "What is AI?"
    assert first.text_pair.startswith("Artificial Intelligence is the branch")
    assert first.label == "ai"
    assert first.origin == "chatterbot_corpus/data/english/ai.yml:dialog 1 turn 1"
    assert len(pairs) == 4331 - 2025  # one per turn after the first of each dialog
    assert not [p for p in pairs if p.problem]
