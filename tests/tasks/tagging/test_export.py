"""Exported taggers: raw text in, dense entity spans out; load with only tensorflow +
tensorflow_text and match Tagger.predict."""

import os
import random

import numpy as np
import pytest
import tensorflow as tf

import tfllm
from tests import helpers
from tfllm.serving import describe
from tests.helpers import export_with_cli, saved_model_cli
from tfllm.tasks.tagging import alignment as tag_alignment
from tfllm.tasks.tagging import entities
from tfllm.tasks.tagging import predictor
from tfllm.serving import warmup, writer
from tfllm.tasks.tagging import serving as tagger_module

EDGE_CASES = ["😀 Zoë Kowalczyk flew from Łódź to New York yesterday.", "", "   \t ",
              "Did Jürgen ever see São Paulo?", "Anna lives in Paris " * 20,
              "東京 Yesterday Priya met José García in Kraków !", "Li"]

# Runs in a fresh interpreter: only tensorflow and tensorflow_text are imported.
LOAD_AND_RUN = """
import json, sys
import tensorflow as tf
import tensorflow_text  # registers the tokenizer ops, as TF Serving builds do
serving = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
results = []
for texts in json.loads(sys.stdin.read()):  # one request per batch of texts
    out = serving(text=tf.constant(texts, tf.string))
    results.append({name: [[x.decode() for x in row] for row in value.numpy().tolist()]
                    if value.dtype == tf.string else value.numpy().tolist()
                    for name, value in out.items()})
assert not {"tfllm", "keras_hub"} & set(sys.modules), "only tensorflow may be imported"
print(json.dumps(results))
"""


def serve_in_fresh_process(version_dir, batches):
    """The serving_default outputs of each batch of texts, computed in a fresh process."""
    return helpers.run_script(LOAD_AND_RUN, version_dir, batches)


def rows(served):
    """The served dense outputs as one list of span dicts per text (padding dropped)."""
    keys = ("entity", "word", "start", "end", "score")
    return [[{key: served[key][i][j] for key in keys} for j in range(n)]
            for i, n in enumerate(served["num_entities"])]


@pytest.fixture(scope="module")
def run(tagger_run):
    """The shared tagger run (tests/conftest.py); read, never written."""
    return tagger_run[0]


@pytest.fixture(scope="module")
def version_dir(run, tmp_path_factory):
    return writer.export(run, str(tmp_path_factory.mktemp("exports") / "ner"))


def test_export_matches_tagger_predict_in_a_fresh_process(run, version_dir):
    assert sorted(os.listdir(os.path.join(version_dir, "assets"))) == ["labels.txt", "vocab.txt"]
    many = [f"Nobody called Li {i} times ." for i in range(256)]
    served, one, batch = serve_in_fresh_process(
        version_dir, [EDGE_CASES, ["Anna lives in Paris."], many])
    tagger = tfllm.load(run)
    expected = tagger.predict(EDGE_CASES)
    assert sum(len(spans) for spans in expected) >= 8  # the texts do have entities
    for got, want in zip(rows(served), expected, strict=True):
        assert [{k: v for k, v in s.items() if k != "score"} for s in got] == [
            {k: v for k, v in s.items() if k != "score"} for s in want]
        np.testing.assert_allclose([s["score"] for s in got], [s["score"] for s in want],
                                   atol=1e-5)
    # Dense padding: '' for strings, -1 for offsets, 0 for scores.
    width = max(served["num_entities"])
    empty = EDGE_CASES.index("")
    assert served["entity"][empty] == [""] * width and served["word"][empty] == [""] * width
    assert served["start"][empty] == [-1] * width and served["end"][empty] == [-1] * width
    assert served["score"][empty] == [0.0] * width
    # A batch of one, and of 256.
    assert one["num_entities"] == [2] and one["word"] == [["Anna", "Paris"]]
    assert [s["word"] for s in rows(batch)[255]] == [s["word"] for s in tagger.predict(many[255])]
    assert len(batch["num_entities"]) == 256


def test_graph_runs_on_core_and_tensorflow_text_ops_only(version_dir):
    ops = describe.graph_ops(version_dir)
    assert not {"PyFunc", "EagerPyFunc", "PyFuncStateless"} & ops
    assert not [op for op in ops if op.startswith("Xla")]
    custom = sorted(op for op in ops if not hasattr(tf.raw_ops, op))
    assert custom == ["FastWordpieceTokenizeWithOffsets", "NormalizeUTF8",
                      "RegexSplitWithOffsets"]


def test_warmup_requests_cover_every_signature(version_dir):
    logs = warmup.read_warmup_requests(version_dir)
    names = [log.predict_log.request.model_spec.signature_name for log in logs]
    assert names == ["serving_default", "serve_token_ids"]
    assert set(logs[1].predict_log.request.inputs) == {"token_ids", "segment_ids",
                                                       "padding_mask"}


@pytest.mark.parametrize("scheme", ["BIO", "BIOES"])
def test_graph_decoding_equals_extract_entities(scheme):
    letters = "BI" if scheme == "BIO" else "BIES"
    tags = ["O"] + [f"{p}-{t}" for t in ("LOC", "PER") for p in letters]
    prefixes, type_ids, types = tagger_module.tag_tables(tags)
    rng = random.Random(0)
    sequences = [[rng.randrange(len(tags)) for _ in range(rng.randrange(0, 12))]
                 for _ in range(300)]  # any sequence, malformed ones included
    width = max(len(s) for s in sequences)
    dense = tf.constant([s + [0] * (width - len(s)) for s in sequences], tf.int32)
    type_id, first, last = tagger_module.decode_entities(dense, prefixes, type_ids)
    for row, sequence in enumerate(sequences):
        got = [(types[t], begin, end + 1) for t, begin, end in zip(
            type_id[row].numpy(), first[row].numpy(), last[row].numpy(), strict=True)]
        assert got == entities.extract_entities([tags[i] for i in sequence]), sequence


def graph_spans(text, tags, word_tags, scores=None):
    """Tagger.predict's spans of one text whose words have the tags `word_tags` (and scores)."""
    _, starts, ends = tag_alignment.split_words([text])
    tag_ids = tf.ragged.constant([[tags.index(tag) for tag in word_tags]], tf.int32)
    scores = tf.ragged.constant([scores or [1.0] * len(word_tags)], tf.float64)
    spans = tagger_module.entity_spans(tf.constant([text]), starts, ends, tag_ids, scores,
                                       tagger_module.tag_tables(tags))
    return predictor.span_dicts([text], spans)[0]


def test_entity_spans_on_the_original_text():
    tags = ["O", "B-LOC", "B-PER", "I-LOC", "I-PER"]
    word_tags = ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O"]
    spans = graph_spans("Angela Merkel visited New\nYork.", tags, word_tags,
                        scores=[0.9, 0.7, 1.0, 0.6, 0.8, 1.0])
    assert spans == [
        {"entity": "PER", "word": "Angela Merkel", "start": 0, "end": 13, "score": 0.8},
        {"entity": "LOC", "word": "New\nYork", "start": 22, "end": 30, "score": 0.7},
    ]
    assert [s["word"] for s in graph_spans("Angela Merkel visited New York.", tags,
                                           word_tags)] == ["Angela Merkel", "New York"]
    [span] = graph_spans("U.", tags, ["B-LOC", "I-LOC"])
    assert span["word"] == "U."


def test_byte_offsets_become_character_offsets():
    texts = tf.constant(["😀 Zoë", "", "abc"])
    byte_offsets = tf.constant([[5, 9], [0, 0], [1, 3]], tf.int64)
    assert tagger_module.char_index(texts, byte_offsets).numpy().tolist() == [
        [2, 5], [0, 0], [1, 3]]


@pytest.mark.slow
def test_cli_export_then_saved_model_cli_run(run, tmp_path):
    export_dir = tmp_path / "ner"
    printed = export_with_cli(run, export_dir)
    assert f"exported {export_dir / '1'}" in printed
    assert "output entity: string (None, None)" in printed
    ran = saved_model_cli("run", export_dir / "1", "--tag_set", "serve", "--signature_def",
                          "serving_default", "--input_exprs", 'text=["Anna lives in Paris."]')
    assert "Result for output key word" in ran and "b'Paris'" in ran
