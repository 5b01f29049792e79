"""Tagged sentences and raw texts -> model features; model outputs -> one tag per word.

Cleaning runs on each word on its own (Unicode normalization, optional
lower-casing), never on the whole text: a word's offsets in the original text
come from splitting the raw text (`tag_alignment.split_words`), so whatever
cleaning does inside a word, the entity spans still point at what the user
wrote. Words then go through `tag_alignment.TagAligner` (first WordPiece of a
word carries its tag). Everything in `text_features` and `tag_words` is
TensorFlow ops: the exported SavedModel traces the same functions.
"""

import numpy as np
import tensorflow as tf

from tfllm.data import cleaning
from tfllm.data import pipeline
from tfllm.tasks.tagging import alignment as tag_alignment

MODEL_FEATURES = ("token_ids", "segment_ids", "padding_mask")
ALIGN_BATCH = 1024


def word_cleaner(cleaning_config):
    """Returns clean(words): ragged [batch, words] strings, each word cleaned on its own."""
    normalization = cleaning_config.get("unicode_normalization", "NFKC")
    lowercase = cleaning_config.get("lowercase", False)

    def clean(words):
        return tf.ragged.map_flat_values(
            lambda flat: cleaning.clean_text(flat, strip_html=False,
                                             unicode_normalization=normalization,
                                             collapse_whitespace=False, lowercase=lowercase),
            words)

    return clean


def align(aligner, clean, word_lists, tag_id_lists=None, batch_size=ALIGN_BATCH):
    """Features of pre-split sentences, computed eagerly in batches.

    Args:
        aligner: a TagAligner.
        clean: from `word_cleaner`.
        word_lists: sequences of words.
        tag_id_lists: optional sequences of tag ids, one per word.

    Returns:
        A dict of numpy arrays, one row per sentence: the aligner's features
        (labels only with `tag_id_lists`).
    """
    chunks = []
    for begin in range(0, len(word_lists), batch_size):
        words = tf.ragged.constant([list(w) for w in word_lists[begin:begin + batch_size]],
                                   dtype=tf.string, ragged_rank=1)
        tag_ids = None
        if tag_id_lists is not None:
            tag_ids = tf.ragged.constant(
                [list(t) for t in tag_id_lists[begin:begin + batch_size]], dtype=tf.int32,
                ragged_rank=1)
        chunks.append({k: v.numpy() for k, v in aligner(clean(words), tag_ids).items()})
    if not chunks:
        return {"num_tokens": np.zeros([0], np.int32)}
    return {key: np.concatenate([chunk[key] for chunk in chunks]) for key in chunks[0]}


def sentence_features(aligner, clean, sentences, tags):
    """`align` of TaggedSentences, their tags turned into ids of the vocabulary `tags`."""
    index = {tag: i for i, tag in enumerate(tags)}
    return align(aligner, clean, [s.tokens for s in sentences],
                 [[index[t] for t in s.tags] for s in sentences])


def labelled_examples(features):
    """The unbatched (model features, labels) dataset of `align`'s output."""
    inputs = {key: features[key] for key in MODEL_FEATURES}
    return tf.data.Dataset.from_tensor_slices((inputs, features["labels"]))


def batches(examples, data_config, training, seed=0, start_batch=0):
    """`pipeline.batches` of `labelled_examples`, the labels cut to the features' width."""

    def trim_labels(features, labels):
        return features, labels[:, :tf.shape(features["token_ids"])[1]]

    batched = pipeline.batches(examples, data_config, training, seed, start_batch)
    return batched.map(trim_labels, num_parallel_calls=tf.data.AUTOTUNE)


def text_features(aligner, clean, texts):
    """Raw texts -> (words, byte starts, byte ends, features), all TensorFlow ops.

    Words and their UTF-8 byte offsets are ragged [batch, words]; the features
    are the aligner's ([batch, sequence_length]).
    """
    words, starts, ends = tag_alignment.split_words(texts)
    return words, starts, ends, aligner(clean(words))


def tag_words(model, features):
    """The most likely tag id and its probability for each word: two ragged [batch, words].

    A sentence cut at the sequence length has values for its first words only.
    """
    inputs = {key: features[key] for key in MODEL_FEATURES}
    logits = tf.cast(model(inputs, training=False), tf.float32)  # (batch, seq, tags)
    probabilities = tf.nn.softmax(logits, axis=-1)
    tag_ids = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
    scores = tf.reduce_max(probabilities, axis=-1)
    word_index = features["word_index"]
    return (tag_alignment.word_values(tag_ids, word_index),
            tag_alignment.word_values(scores, word_index))


def predict_tags(model, features, tags, batch_size=64):
    """Tag names of each word of each sentence of `align`'s features (lists of str)."""
    predicted = []
    for begin in range(0, len(features["token_ids"]), batch_size):
        batch = {key: features[key][begin:begin + batch_size]
                 for key in MODEL_FEATURES + ("word_index",)}
        tag_ids, _ = tag_words(model, batch)
        predicted += [[tags[i] for i in row] for row in tag_ids.to_list()]
    return predicted
