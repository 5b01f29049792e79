"""Tests of tfllm.tasks.span_qa.metric against hand-computed official SQuAD scores."""

import pytest

from tfllm.tasks.span_qa.squad import QaExample
from tfllm.tasks.span_qa import metric as squad


def _example(qid, *golds):
    return QaExample(qid, "?", "", tuple((g, 0) for g in golds), is_impossible=not golds)


ANSWERABLE = [_example("q1", "Denver Broncos", "The Denver Broncos"),
              _example("q2", "Santa Clara, California"),
              _example("q3", "1871", "in 1871"),
              _example("q4", "Paris")]
PREDICTIONS = {"q1": "denver broncos!", "q2": "Santa Clara", "q3": "in the year 1871", "q4": "",
               "q5": "", "q6": "Paris"}


def test_normalization_and_single_scores():
    # lower -> drop punctuation ("cat's" becomes "cats") -> drop articles -> single spaces
    assert squad.normalize_answer("The  Cat's, an\tapple!") == "cats apple"
    assert squad.normalize_answer("theatre") == "theatre"  # whole words only
    assert squad.exact_match("the Denver-Broncos", "DenverBroncos") == 1
    # [denver, broncos, won] vs [denver, broncos]: precision 2/3, recall 1.
    assert squad.f1("Denver Broncos won", "the Denver Broncos") == pytest.approx(0.8)
    # Tokens count with multiplicity: two common "y": precision 2/3, recall 2/4.
    assert squad.f1("x y y", "y y y z") == pytest.approx(2 * (2 / 3) * (2 / 4) / (2 / 3 + 2 / 4))
    assert squad.f1("a b b", "b b") == 1.0  # "a" is an article


def test_v1_scores_are_percentages_of_the_best_gold_per_question():
    # q1: exact after normalization (1, 1). q2: [santa, clara] in [santa, clara, california]:
    # F1 0.8. q3: "in year 1871" against "1871" F1 0.5, against "in 1871" F1 0.8: best 0.8.
    # q4: empty prediction (0, 0).
    assert squad.squad_scores(ANSWERABLE, PREDICTIONS) == {
        "exact": 25.0, "f1": pytest.approx(65.0), "total": 4}


def test_v2_scores_split_answerable_and_unanswerable():
    examples = ANSWERABLE + [_example("q5"), _example("q6")]  # "" right for q5, wrong for q6
    assert squad.squad_scores(examples, PREDICTIONS) == {
        "exact": pytest.approx(100 * 2 / 6), "f1": pytest.approx(100 * 3.6 / 6), "total": 6,
        "HasAns_exact": 25.0, "HasAns_f1": pytest.approx(65.0), "HasAns_total": 4,
        "NoAns_exact": 50.0, "NoAns_f1": 50.0, "NoAns_total": 2}


def test_versions_differ_only_on_texts_that_normalize_to_nothing():
    examples, predictions = [_example("q", "The")], {"q": "a"}
    # v1.1 compares "" with "": exact, but F1 has no common token. v2.0 drops the gold
    # answer, leaving "", and scores empty against empty as a match.
    assert squad.squad_scores(examples, predictions) == {"exact": 100.0, "f1": 0.0, "total": 1}
    assert squad.squad_scores(examples, predictions, version="2.0") == {
        "exact": 100.0, "f1": 100.0, "total": 1,
        "HasAns_exact": 100.0, "HasAns_f1": 100.0, "HasAns_total": 1}


def test_missing_predictions_and_unknown_versions_raise():
    with pytest.raises(ValueError, match=r"no prediction for 1 questions: \['q9'\]"):
        squad.squad_scores([_example("q9", "x")], PREDICTIONS)
    with pytest.raises(ValueError, match="version must be"):
        squad.squad_scores(ANSWERABLE, PREDICTIONS, version="3")
