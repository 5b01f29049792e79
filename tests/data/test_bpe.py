"""Byte-level BPE: GPT-2-format files, and in-graph tokenization that round-trips any text."""

import json

import pytest
import tensorflow as tf

from tfllm.data import bpe
from tfllm.errors import DataError

CORPUS = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog"] * 20

UNICODE = [
    "Hello, world!",
    "日本語のテキストと絵文字 😀🎉",
    "  leading spaces,\n\nblank lines\tand tabs  ",
    "Ünïcödé ß ﬁ ligature, combining é",
    "مرحبا بالعالم and עברית",
    "\u200b zero-width \u2028 line separator",
    "x\r\ny",
    "",
]


@pytest.fixture(scope="module")
def tokenizer():
    return bpe.build_tokenizer(*bpe.learn(CORPUS, vocabulary_size=300))


def test_learned_vocabulary_has_end_of_text_first_and_bytes(tokenizer):
    vocabulary, merges = bpe.learn(CORPUS, vocabulary_size=300)
    assert vocabulary[bpe.END_OF_TEXT] == 0
    assert len(vocabulary) > 256 and merges  # every byte, plus learned merges
    assert tokenizer.end_token_id == 0


def test_any_unicode_round_trips_in_the_graph(tokenizer):
    tokenize = tf.function(tokenizer)
    detokenize = tf.function(tokenizer.detokenize)
    ids = tokenize(tf.constant(UNICODE))
    assert [t.decode("utf-8") for t in detokenize(ids).numpy()] == UNICODE


def test_merges_shorten_frequent_words(tokenizer):
    ids = tf.function(tokenizer)(tf.constant(["the cat sat on the mat"]))
    assert ids.row_lengths().numpy()[0] < len("the cat sat on the mat") / 2


def test_save_and_load_give_the_same_tokenizer(tokenizer, tmp_path):
    vocabulary, merges = bpe.learn(CORPUS, vocabulary_size=300)
    bpe.save(vocabulary, merges, tmp_path)
    assert (tmp_path / "merges.txt").read_text(encoding="utf-8").startswith("#version")
    loaded = bpe.build_tokenizer(*bpe.load(str(tmp_path)))
    texts = tf.constant(UNICODE)
    assert tf.function(loaded)(texts).to_list() == tf.function(tokenizer)(texts).to_list()


def test_missing_files_and_vocabulary_without_end_token_are_named(tmp_path):
    with pytest.raises(DataError, match="--config.tokenizer.vocabulary: .*vocab.json not found"):
        bpe.load(str(tmp_path))
    (tmp_path / "vocab.json").write_text(json.dumps({"a": 0}), encoding="utf-8")
    (tmp_path / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    with pytest.raises(DataError, match="vocab.json: .*<\\|endoftext\\|>"):
        bpe.load(str(tmp_path))


def test_malformed_merges_line_is_named_with_its_number(tmp_path):
    (tmp_path / "vocab.json").write_text(json.dumps({bpe.END_OF_TEXT: 0}), encoding="utf-8")
    (tmp_path / "merges.txt").write_text("#version: 0.2\na b\nabc\n", encoding="utf-8")
    with pytest.raises(DataError, match="merges.txt:3: expected two tokens"):
        bpe.load(str(tmp_path))
