"""Tests of tfllm.tasks.tagging.entities against values computed by hand (seqeval's examples)."""

import pytest

from tfllm.tasks.tagging import entities


@pytest.mark.parametrize("tags, expected", [
    # seqeval's get_entities docstring example (its ends are inclusive, ours exclusive).
    (["B-PER", "I-PER", "O", "B-LOC"], [("PER", 0, 2), ("LOC", 3, 4)]),
    # IOB2, lenient: I- after O or after another type starts an entity.
    (["O", "I-PER", "I-PER"], [("PER", 1, 3)]),
    (["B-PER", "I-LOC", "I-LOC"], [("PER", 0, 1), ("LOC", 1, 3)]),
    (["B-PER", "B-PER", "I-PER"], [("PER", 0, 1), ("PER", 1, 3)]),
    # BIOES.
    (["B-LOC", "I-LOC", "E-LOC", "S-PER", "O"], [("LOC", 0, 3), ("PER", 3, 4)]),
    (["S-PER", "E-PER"], [("PER", 0, 1), ("PER", 1, 2)]),
    (["B-PER", "E-PER", "I-PER"], [("PER", 0, 2), ("PER", 2, 3)]),
    (["B-PER", "O", "E-LOC"], [("PER", 0, 1), ("LOC", 2, 3)]),
    (["O", "O"], []),
])
def test_extract_entities(tags, expected):
    assert entities.extract_entities(tags) == expected


def test_bad_tags_and_lengths_raise():
    with pytest.raises(ValueError, match="not a BIO/BIOES tag: 'PER'"):
        entities.extract_entities(["PER"])
    with pytest.raises(ValueError, match="sequence 0: 2 gold tags but 1 predicted"):
        entities.entity_scores([["O", "O"]], [["O"]])


def test_seqeval_readme_example():
    gold = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    predicted = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    report = entities.entity_scores(gold, predicted)
    # seqeval: f1_score 0.50, accuracy_score 0.80, MISC 0.00 and PER 1.00 (support 1 each).
    assert (report["precision"], report["recall"], report["f1"]) == (0.5, 0.5, 0.5)
    assert report["accuracy"] == pytest.approx(0.8)
    assert report["per_type"] == {
        "MISC": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1},
        "PER": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1},
    }
    # seqeval README (default vs strict): I-NP I-NP is one NP entity in default mode.
    assert entities.entity_scores([["B-NP", "I-NP", "O"]], [["I-NP", "I-NP", "O"]])["f1"] == 1.0


def test_bio_wrong_boundary_is_a_false_positive_and_a_false_negative():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-ORG", "I-ORG", "O"]]
    predicted = [["B-PER", "O", "O", "B-LOC"], ["B-ORG", "I-ORG", "I-ORG", "B-PER"]]
    report = entities.entity_scores(gold, predicted)
    # Gold: PER, LOC, ORG. Predicted: PER (too short), LOC, ORG, PER (spurious).
    assert (report["support"], report["predicted"], report["correct"]) == (3, 4, 2)
    assert report["precision"] == 0.5
    assert report["recall"] == pytest.approx(2 / 3)
    assert report["f1"] == pytest.approx(4 / 7)  # 2 * 1/2 * 2/3 / (1/2 + 2/3)
    assert report["per_type"]["PER"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                                         "support": 1}
    assert report["macro_f1"] == pytest.approx(2 / 3)  # (0 + 1 + 1) / 3
    assert report["accuracy"] == 0.75  # 6 of 8 tags


def test_bioes_scores_and_lenient_decoding():
    gold = [["S-PER", "O", "B-LOC", "I-LOC", "E-LOC"], ["B-MISC", "E-MISC"]]
    predicted = [["S-PER", "O", "B-LOC", "E-LOC", "O"], ["B-MISC", "I-MISC"]]
    report = entities.entity_scores(gold, predicted)
    # LOC ends one word early: wrong. "B-MISC I-MISC" lacks its E- but decodes
    # (leniently, not seqeval strict mode) to the gold MISC span: right.
    assert (report["support"], report["predicted"], report["correct"]) == (3, 3, 2)
    assert report["f1"] == pytest.approx(2 / 3)
    assert report["per_type"]["LOC"]["f1"] == 0.0
    assert report["per_type"]["MISC"]["f1"] == report["per_type"]["PER"]["f1"] == 1.0


def test_no_entities_scores_zero():
    report = entities.entity_scores([["O"]], [["O"]])
    assert (report["f1"], report["macro_f1"], report["per_type"]) == (0.0, 0.0, {})

