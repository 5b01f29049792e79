import pytest

from tfllm.evaluation import text_overlap

PREDICTIONS = ["the cat sat on the mat", "hello world"]
REFERENCES = ["the cat sat on a mat", "hello  world"]


def test_scores_match_hand_computation():
    report = text_overlap.overlap_report(PREDICTIONS, REFERENCES)
    # Corpus BLEU: 8 predicted and 8 reference tokens (no brevity penalty); clipped n-gram
    # precisions 7/8, 4/6, 2/4, 1/3; BLEU is their geometric mean.
    assert report["bleu"] == pytest.approx((7 / 8 * 4 / 6 * 2 / 4 * 1 / 3) ** 0.25, abs=1e-6)
    # ROUGE F1 per example, averaged: unigrams 5/6 and 1, bigrams 3/5 and 1; the longest
    # common subsequence of the first pair is 5 of 6 tokens.
    assert report["rouge1"] == pytest.approx((5 / 6 + 1) / 2, abs=1e-6)
    assert report["rouge2"] == pytest.approx((3 / 5 + 1) / 2, abs=1e-6)
    assert report["rougeL"] == pytest.approx((5 / 6 + 1) / 2, abs=1e-6)
    assert report["exact_match"] == 0.5  # whitespace runs do not count
    assert report["examples"] == 2


def test_identical_texts_score_one_and_lengths_must_agree():
    report = text_overlap.overlap_report(["a b c d"], ["a b c d"])
    assert report["bleu"] == pytest.approx(1.0) and report["exact_match"] == 1.0
    with pytest.raises(ValueError, match="2 predictions for 1 references"):
        text_overlap.overlap_report(["a", "b"], ["a"])
