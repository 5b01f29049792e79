"""The bias probe: swapping he/she moves a classifier that leans on pronouns, not one that
ignores them."""

import json
import os
import sys

import numpy as np
import pytest

import tfllm
from tests.helpers import finish, start, toy_topics, train_until_learned
from tfllm.errors import DataError
from tfllm.tasks.classification import bias

HE_SHE = bias.Pair("he", "she", "gender")


def test_swap_exchanges_whole_words_both_ways_keeping_case():
    assert bias.swap("He said she would go; the hero left.", HE_SHE) == \
        "She said he would go; the hero left."
    assert bias.swap("HE IS HERE", HE_SHE) == "SHE IS HERE"
    assert bias.swap("the theme", HE_SHE) is None  # no whole-word match


def test_default_pairs_ship_with_the_package_and_bad_files_name_the_line(tmp_path):
    pairs = bias.read_pairs()
    assert len(pairs) >= 20 and HE_SHE in pairs
    bad = tmp_path / "pairs.tsv"
    bad.write_text("# gender\nhe\tshe\nonly-one-term\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"pairs.tsv:3: expected two different terms"):
        bias.read_pairs(str(bad))


def test_probe_counts_flips_and_shifts():
    def leans_on_he(texts):  # P(label 0) = 0.9 with "he", 0.2 otherwise
        p = np.array([0.9 if " he " in f" {t.lower()} " else 0.2 for t in texts])
        return np.stack([p, 1 - p], axis=-1)

    texts = ["he runs", "she runs", "they run"]
    report = bias.probe(leans_on_he, texts, [HE_SHE])
    row = report["pairs"][0]
    assert row["texts"] == 2 and row["flips"] == 2  # "they run" has neither term
    # he runs: label 0 at 0.9 -> 0.2 (shift 0.7); she runs: label 1 at 0.8 -> 0.1 (0.7)
    assert row["mean_shift"] == pytest.approx(0.7)
    assert report["flagged"] == ["he/she"]
    assert bias.probe(lambda t: np.tile([0.6, 0.4], (len(t), 1)), texts,
                      [HE_SHE])["flagged"] == []


def train(rows, tmp):
    os.makedirs(tmp)
    return train_until_learned(tmp, rows, epochs=6)[1]


@pytest.mark.slow
def test_the_probe_flags_a_pronoun_classifier_and_not_a_topic_classifier(tmp_path):
    fillers = ["walked home", "read a book", "ate lunch", "went out", "called back", "sat down"]
    pronoun_rows = [(f"{pronoun} {fillers[i % 6]} on day {i}", label)
                    for i in range(40) for pronoun, label in (("he", "a"), ("she", "b"))]
    leans = train(pronoun_rows, str(tmp_path / "pronoun"))
    # `tfllm probe-bias` runs on the first classifier while this process trains the second.
    probe_cli = start(sys.executable, "-m", "tfllm.cli.main", "probe-bias", f"--workdir={leans}")
    topic_rows = [(f"{pronoun} said {text}", label)
                  for text, label in toy_topics(30) for pronoun in ("he", "she")]
    ignores = train(topic_rows, str(tmp_path / "topic"))

    assert "flagged: he/she" in finish(probe_cli)
    report = json.loads((tmp_path / "pronoun" / "run" / "bias.json").read_text())
    he_she = next(row for row in report["pairs"] if row["pair"] == "he/she")
    assert he_she["flip_rate"] > 0.9  # the label is the pronoun

    classifier = tfllm.load(ignores)
    texts = [text for text, _ in topic_rows]
    he_she = bias.probe(classifier.probabilities, texts, [HE_SHE])["pairs"][0]
    assert he_she["texts"] == len(texts) and he_she["flips"] == 0 and not he_she["flagged"]
