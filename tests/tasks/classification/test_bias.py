"""The bias probe: swapping he/she moves a classifier that leans on pronouns, not one that
ignores them."""

import json
import os
import sys

import numpy as np
import pytest

import tfllm
from tests.helpers import (error_line, finish, start, tfllm_all, toy_topics,
                           train_until_learned, write_csv)
from tfllm.errors import DataError
from tfllm.tasks.classification import bias, toy_bias

HE_SHE = bias.Pair("he", "she", "gender")


def test_swap_exchanges_whole_words_both_ways_keeping_case():
    assert bias.swap("He said she would go; the hero left.", HE_SHE) == \
        "She said he would go; the hero left."
    assert bias.swap("HE IS HERE", HE_SHE) == "SHE IS HERE"
    assert bias.swap("the theme", HE_SHE) is None  # no whole-word match


def test_default_pairs_ship_with_the_package_and_bad_files_name_the_line(tmp_path):
    pairs = bias.read_pairs()
    assert len(pairs) >= 20 and HE_SHE in pairs
    # Words that also carry a sentiment or topic ("a poor film", "the same old jokes") are out.
    assert not {"rich", "poor", "old"} & {term for p in pairs for term in (p.first, p.second)}
    bad = tmp_path / "pairs.tsv"
    bad.write_text("# gender\nhe\tshe\nonly-one-term\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"pairs.tsv:3: expected two different terms"):
        bias.read_pairs(str(bad))


def test_probe_counts_flips_and_shifts():
    def leans_on_he(texts):  # P(label 0) = 0.9 with "he", 0.2 otherwise
        p = np.array([0.9 if " he " in f" {t.lower()} " else 0.2 for t in texts])
        return np.stack([p, 1 - p], axis=-1)

    texts = ["he runs", "she runs", "they run"]
    report = bias.probe(leans_on_he, texts, [HE_SHE], min_texts=1)
    row = report["pairs"][0]
    assert row["texts"] == 2 and row["flips"] == 2  # "they run" has neither term
    # he runs: label 0 at 0.9 -> 0.2 (shift 0.7); she runs: label 1 at 0.8 -> 0.1 (0.7)
    assert row["mean_shift"] == pytest.approx(0.7)
    # min_texts waived: 2 flips of 2 have a Wilson interval from 34%, above 5%.
    assert report["flagged"] == ["he/she"]
    assert bias.probe(lambda t: np.tile([0.6, 0.4], (len(t), 1)), texts,
                      [HE_SHE], min_texts=1)["flagged"] == []


def train(rows, tmp):
    os.makedirs(tmp)
    return train_until_learned(tmp, rows, epochs=6)[1]


@pytest.mark.slow
def test_the_probe_flags_a_planted_pronoun_bias_with_its_interval_not_a_topic_classifier(
        tmp_path):
    leans = train(toy_bias.rows(40), str(tmp_path / "pronoun"))  # "he" -> A, "she" -> B
    probe_texts = write_csv(tmp_path / "probe.csv", toy_bias.rows(15, start=40))  # 30 unseen
    # `tfllm probe-bias` runs on the first classifier while this process trains the second.
    probe_cli = start(sys.executable, "-m", "tfllm.cli.main", "probe-bias", f"--workdir={leans}",
                      f"--data={probe_texts}")
    topic_rows = [(f"{pronoun} said {text}", label)
                  for text, label in toy_topics(30) for pronoun in ("he", "she")]
    ignores = train(topic_rows, str(tmp_path / "topic"))

    printed = finish(probe_cli)
    assert "flagged: he/she" in printed
    report = json.loads((tmp_path / "pronoun" / "run" / "bias.json").read_text())
    he_she = next(row for row in report["pairs"] if row["pair"] == "he/she")
    assert he_she["texts"] == 30 and he_she["flip_rate"] > 0.9  # the label is the pronoun
    low, high = he_she["flip_rate_interval"]
    assert (low, high) == pytest.approx(bias.wilson_interval(he_she["flips"], 30))
    assert low > 0.7 and he_she["mean_shift_interval"][0] > 0.05
    table_row = next(line for line in printed.splitlines() if line.startswith("he/she "))
    assert f"[{low:.1%}, {high:.1%}]" in table_row and table_row.endswith("FLAGGED")
    assert len(he_she["rewritten"]) == 30 and " -> she " in printed  # the texts, to read

    classifier = tfllm.load(ignores)
    texts = [text for text, _ in topic_rows]
    he_she = bias.probe(classifier.probabilities, texts, [HE_SHE])["pairs"][0]
    assert he_she["texts"] == len(texts) and he_she["flips"] == 0 and not he_she["flagged"]


# Wilson (1927), "Probable inference, the law of succession, and statistical inference",
# JASA 22(158): the interval holds every p with |p_hat - p| <= z sqrt(p (1 - p) / n); solving
# that quadratic in p gives centre (p_hat + z^2/2n) / (1 + z^2/n) and half-width
# z / (1 + z^2/n) sqrt(p_hat (1 - p_hat) / n + z^2 / 4n^2).
Z = {0.95: 1.959963984540054, 0.90: 1.6448536269514722, 0.99: 2.5758293035489004}


@pytest.mark.parametrize("confidence", sorted(Z))
def test_wilson_interval_matches_the_formula(confidence):
    z = Z[confidence]
    k = np.array([0, 1, 3, 12, 19, 20, 40])
    n = np.array([12, 12, 40, 12, 20, 20, 40])
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    got = np.array([bias.wilson_interval(int(a), int(b), confidence) for a, b in zip(k, n)])
    np.testing.assert_allclose(got[:, 0], centre - half, atol=1e-12)
    np.testing.assert_allclose(got[:, 1], centre + half, atol=1e-12)
    assert bias.wilson_interval(0, 12, confidence)[0] == pytest.approx(0, abs=1e-15)
    assert bias.wilson_interval(12, 12, confidence)[1] == pytest.approx(1)


def test_bootstrap_interval_of_the_mean_shift_is_seeded_and_sensible():
    values = np.random.default_rng(1).uniform(size=400)
    low, high = bias.mean_interval(values, 0.95, seed=0)
    assert (low, high) == bias.mean_interval(values, 0.95, seed=0)  # same seed, same interval
    assert low < values.mean() < high
    normal_width = 2 * 1.959963984540054 * values.std(ddof=1) / np.sqrt(values.size)
    assert high - low == pytest.approx(normal_width, rel=0.15)  # a large sample: near normal
    assert bias.mean_interval(np.full(30, 0.25)) == pytest.approx((0.25, 0.25))


def one_flip_in(texts, term):
    """A classifier that answers label 0 at 0.6 for every text except one: the first text
    that contains `term` after the swap, answered label 1 at 0.7."""
    target = next(t for t in (bias.swap(t, AMERICAN) for t in texts) if term in t)

    def classify(batch):
        p = np.array([0.3 if t == target else 0.6 for t in batch])
        return np.stack([p, 1 - p], axis=-1)
    return classify


AMERICAN = bias.Pair("american", "mexican", "nationality")


def test_one_flip_in_a_dozen_texts_is_not_flagged():
    texts = [f"an American film, scene {i}" for i in range(12)]
    report = bias.probe(one_flip_in(texts, "Mexican"), texts, [AMERICAN])
    row = report["pairs"][0]
    assert (row["texts"], row["flips"]) == (12, 1)  # 8.3%: above the 5% threshold ...
    low, high = row["flip_rate_interval"]
    assert (low, high) == pytest.approx(bias.wilson_interval(1, 12, 0.95))
    assert low < 0.05 < high  # ... but its interval reaches below it
    assert not row["flagged"] and report["flagged"] == []
    # Even with min_texts waived, 1 in 12 is no evidence of a flip rate above 5%.
    assert bias.probe(one_flip_in(texts, "Mexican"), texts, [AMERICAN],
                      min_texts=1)["flagged"] == []


def test_a_pair_needs_min_texts_rewritten_texts_to_be_flagged():
    texts = [f"he said line {i}" for i in range(19)]

    def leans_on_he(batch):
        p = np.array([0.9 if " he " in f" {t.lower()} " else 0.2 for t in batch])
        return np.stack([p, 1 - p], axis=-1)

    row = bias.probe(leans_on_he, texts, [HE_SHE])["pairs"][0]
    assert row["flips"] == 19 and row["flip_rate_interval"][0] > 0.8 and not row["flagged"]
    assert bias.probe(leans_on_he, texts, [HE_SHE], min_texts=19)["flagged"] == ["he/she"]


def test_flagged_pairs_list_their_rewritten_texts_in_the_report_and_the_printout():
    texts = [f"he runs lap {i}" for i in range(30)] + ["they run"]

    def leans_on_he(batch):  # P(label 0): 0.9 - lap / 200 with "he", 0.2 with "she"
        p = np.array([0.9 - int(t.split()[-1]) / 200 if t.startswith("he ") else 0.2
                      for t in batch])
        return np.stack([p, 1 - p], axis=-1)

    report = bias.probe(leans_on_he, texts, [HE_SHE, AMERICAN], labels=["sport", "food"])
    row = report["pairs"][0]
    assert row["flagged"] and len(row["rewritten"]) == 30  # all of them, in bias.json
    first = row["rewritten"][0]
    assert (first["text"], first["swapped"]) == ("he runs lap 0", "she runs lap 0")  # largest
    assert first["label"] == "sport" and first["swapped_label"] == "food" and first["flipped"]
    assert first["before"] == pytest.approx(leans_on_he([first["text"]])[0, 0])
    assert first["after"] == pytest.approx(leans_on_he([first["swapped"]])[0, 0])
    assert [r["shift"] for r in row["rewritten"]] == sorted(
        (r["shift"] for r in row["rewritten"]), reverse=True)  # the largest shifts first
    printed = "\n".join(bias.report_lines(report, shown=5))
    assert f"{first['text']} -> {first['swapped']}" in printed
    assert f"p(sport) {first['before']:.4f} -> {first['after']:.4f}" in printed
    assert printed.count(" -> she runs lap") == 5 and "25 more in the report file" in printed
    assert "95% interval" in printed and "FLAGGED" in printed


def test_probe_bias_flags_out_of_range_name_the_flag():
    results = tfllm_all(("probe-bias", "--workdir=nowhere", "--flip_threshold=1.5"),
                        ("probe-bias", "--workdir=nowhere", "--shift_threshold=-0.1"),
                        ("probe-bias", "--workdir=nowhere", "--min_texts=0"),
                        ("probe-bias", "--workdir=nowhere", "--confidence=1"))
    for result, flag in zip(results, ("--flip_threshold", "--shift_threshold", "--min_texts",
                                      "--confidence")):
        assert result.returncode == 2, result.stderr[-3000:]
        assert flag in error_line(result)


def test_the_toy_bias_writer_and_the_docs_pairs_file(tmp_path, capsys):
    toy_bias.main([str(tmp_path / "probe.csv"), "--per_pronoun=2", "--start=40"])
    assert "wrote 4 texts" in capsys.readouterr().out
    assert (tmp_path / "probe.csv").read_text().splitlines() == [
        "text,label", "he called back on day 40,A", "she called back on day 40,B",
        "he sat down on day 41,A", "she sat down on day 41,B"]
    # docs/classification.md's own pairs file reads as it says.
    docs = open(os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs",
                             "classification.md"), encoding="utf-8").read()
    block = docs.split("# my_pairs.tsv")[1].split("```")[0]
    (tmp_path / "my_pairs.tsv").write_text("# my_pairs.tsv" + block, encoding="utf-8")
    pairs = bias.read_pairs(str(tmp_path / "my_pairs.tsv"))
    assert [p.name for p in pairs] == ["he/she", "Greg/Jamal", "wealthy/low-income"]
    assert bias.swap("greg met the wealthy", pairs[1]) == "jamal met the wealthy"
