"""Tests of tfllm.tasks.tagging.alignment: first-piece labels, word indices, lengths, offsets."""

import numpy as np
import pytest
import tensorflow as tf

from tfllm.tasks.tagging import alignment as tag_alignment
from tfllm.tasks.tagging.reading import TaggedSentence
from tfllm.data.tokenizer import RESERVED_TOKENS, build_tokenizer
from tfllm.errors import DataError
from tfllm.serving.offsets import char_index

# ids: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4, then the words below from 5.
VOCABULARY = RESERVED_TOKENS + [
    "the", "un", "##believ", "##able", "story", "was", ".", "u", "s", "in", "new", "york",
]
ID = {token: i for i, token in enumerate(VOCABULARY)}
CLS, SEP, PAD = ID["[CLS]"], ID["[SEP]"], ID["[PAD]"]


def _aligner(sequence_length=12):
    return tag_alignment.TagAligner(build_tokenizer(VOCABULARY, lowercase=True), sequence_length)


def _lists(features):
    return {name: np.asarray(value).tolist() for name, value in features.items()}


def test_only_the_first_piece_of_a_word_carries_its_label():
    words = tf.ragged.constant([["The", "unbelievable", "story"]])
    features = _lists(_aligner(8)(words, tf.ragged.constant([[0, 1, 2]])))
    assert features["token_ids"] == [[CLS, ID["the"], ID["un"], ID["##believ"], ID["##able"],
                                      ID["story"], SEP, PAD]]
    assert features["labels"] == [[-1, 0, 1, -1, -1, 2, -1, -1]]
    assert features["word_index"] == [[-1, 0, 1, -1, -1, 2, -1, -1]]
    assert features["padding_mask"] == [[True] * 7 + [False]]
    assert features["segment_ids"] == [[0] * 8]
    assert features["num_tokens"] == [7]


def test_pieces_equal_the_keras_hub_tokenizer_and_split_words_stay_one_word():
    tokenizer = build_tokenizer(VOCABULARY, lowercase=True)
    words = ["The", "U.S.", "story", "was", "unbelievable", "."]
    features = _lists(tag_alignment.TagAligner(tokenizer, 16)(
        tf.ragged.constant([words]), tf.ragged.constant([[5, 6, 7, 8, 9, 10]])))
    expected = np.asarray(tokenizer(" ".join(words))).tolist()
    assert features["token_ids"][0][: len(expected) + 2] == [CLS] + expected + [SEP]
    # "U.S." is u . s . (four pieces) but one word: label on "u" only.
    assert features["labels"][0][:13] == [-1, 5, 6, -1, -1, -1, 7, 8, 9, -1, -1, 10, -1]
    assert features["word_index"][0][:13] == [-1, 0, 1, -1, -1, -1, 2, 3, 4, -1, -1, 5, -1]


def test_a_word_without_pieces_becomes_unk_and_keeps_its_label():
    features = _lists(_aligner(6)(tf.ragged.constant([["\u200b", "story"]]),
                                  tf.ragged.constant([[3, 4]])))
    assert features["token_ids"] == [[CLS, ID["[UNK]"], ID["story"], SEP, PAD, PAD]]
    assert features["labels"] == [[-1, 3, 4, -1, -1, -1]]


def test_same_features_eagerly_batched_and_per_example_inside_tf_data():
    words = [["the", "unbelievable", "story"], ["new", "york"], []]
    tags = [[1, 2, 0], [3, 4], []]
    aligner = _aligner(8)
    eager = _lists(aligner(tf.ragged.constant(words), tf.ragged.constant(tags)))
    dataset = tf.data.Dataset.from_tensor_slices(
        (tf.ragged.constant(words), tf.ragged.constant(tags))
    ).map(aligner).batch(3)
    assert dataset.element_spec["token_ids"].shape.as_list() == [None, 8]
    assert _lists(next(iter(dataset))) == eager
    batched = tf.data.Dataset.from_tensors((tf.ragged.constant(words), tf.ragged.constant(tags)))
    assert _lists(next(iter(batched.map(aligner)))) == eager


def test_too_long_sentences_are_counted_and_reported_with_their_origin():
    aligner = _aligner(5)
    features = _lists(aligner(tf.ragged.constant([["the", "unbelievable"], ["the", "story"]])))
    assert features["num_tokens"] == [6, 4]
    assert features["token_ids"][0] == [CLS, ID["the"], ID["un"], ID["##believ"], SEP]
    sentences = [TaggedSentence(("the", "story"), ("O", "O"), "a.conll:1"),
                 TaggedSentence(("the", "unbelievable"), ("O", "O"), "a.conll:4")]
    assert aligner.count_tokens([s.tokens for s in sentences]).tolist() == [4, 6]
    with pytest.raises(DataError, match=r"1 sentences .* a\.conll:4 \(6 tokens\)"):
        tag_alignment.check_fits(sentences, aligner)
    tag_alignment.check_fits(sentences[:1], aligner)


def test_word_values_maps_token_predictions_back_to_words():
    features = _aligner(8)(tf.ragged.constant([["unbelievable", "story"], ["the"]]))
    predictions = tf.range(16).numpy().reshape(2, 8)  # any value per position
    words = tag_alignment.word_values(predictions, features["word_index"])
    assert words.to_list() == [[1, 4], [9]]


def test_split_words_gives_byte_offsets_and_char_index_slices_the_text():
    text = "Héllo, wörld\tNew-York 東京"
    words, starts, ends = tag_alignment.split_words([text])
    words = [w.decode() for w in words[0].numpy()]
    assert words == ["Héllo", ",", "wörld", "New", "-", "York", "東", "京"]
    assert starts[0].numpy().tolist()[:3] == [0, 6, 8]  # "é" is two UTF-8 bytes
    # In the graph, as the tagger's entity spans convert them.
    char_starts, char_ends = (char_index(tf.constant([text]), offsets.to_tensor()).numpy()[0]
                              for offsets in (starts, ends))
    offsets = list(zip(char_starts.tolist(), char_ends.tolist()))
    assert [text[start:end] for start, end in offsets] == words
    assert offsets[:3] == [(0, 5), (5, 6), (7, 12)]
    # Every byte offset split_words makes is at a character boundary.
    for byte, char in zip(np.concatenate([starts[0], ends[0]]),
                          np.concatenate([char_starts, char_ends])):
        assert len(text[:char].encode("utf-8")) == byte


def test_raw_text_features_survive_a_saved_model_round_trip(tmp_path):
    class Serving(tf.Module):
        def __init__(self):
            super().__init__()
            self.aligner = _aligner(8)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def features(self, text):
            words, _, _ = tag_alignment.split_words(text)
            return self.aligner(words)

    texts = tf.constant(["The unbelievable story.", "New York"])
    serving = Serving()
    expected = _lists(serving.features(texts))
    tf.saved_model.save(serving, str(tmp_path))
    assert _lists(tf.saved_model.load(str(tmp_path)).features(texts)) == expected
    assert expected["word_index"][0] == [-1, 0, 1, -1, -1, 2, 3, -1]


def test_words_and_tags_of_different_lengths_fail_also_inside_tf_data():
    aligner = _aligner(8)
    with pytest.raises(tf.errors.InvalidArgumentError, match="differ in length"):
        aligner(tf.ragged.constant([["the", "story"]]), tf.ragged.constant([[1]]))
    dataset = tf.data.Dataset.from_tensors((["the", "story"], [1])).map(aligner)
    with pytest.raises(tf.errors.InvalidArgumentError, match="differ in length"):
        next(iter(dataset))
