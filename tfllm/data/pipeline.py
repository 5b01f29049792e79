"""tf.data assembly: records -> cleaned, tokenized, packed, batched features.

Tokenization runs batched (one tensorflow-text call per 1,024 examples) and
the packed features are cached, so later epochs only shuffle and batch.
"""

import keras_hub
import numpy as np
import tensorflow as tf

from tfllm.data import cleaning
from tfllm.data import stream

TOKENIZE_BATCH = 1024


def build_preprocessor(tokenizer, sequence_length):
    """Packs one or two segments as [CLS] a [SEP] b [SEP], truncating round-robin."""
    return keras_hub.models.BertTextClassifierPreprocessor(
        tokenizer, sequence_length=sequence_length, truncate="round_robin")


def segments(records):
    """Returns the text segments of `records` as a tuple of 1 or 2 string lists."""
    texts = [r.text for r in records]
    if any(r.text_pair is not None for r in records):
        return texts, [r.text_pair or "" for r in records]
    return (texts,)


def features_fn(preprocessor, cleaning_config):
    """Returns a function mapping a batch of raw segments to BERT features."""
    clean = cleaning.clean_fn(cleaning_config)

    def to_features(*texts):
        cleaned = tuple(clean(t) for t in texts)
        # y=None stops keras-hub from reading a (text, text_pair) tuple as (x, y).
        return preprocessor(cleaned if len(cleaned) > 1 else cleaned[0], y=None)

    return to_features


def classification_dataset(records, labels, preprocessor, data_config, training, seed=0,
                           start_batch=0):
    """Returns a tf.data.Dataset of (features, one-hot label) batches: `cached_features`
    of `records`, then `batches` of them (see both)."""
    return batches(cached_features(records, labels, preprocessor, data_config), data_config,
                   training, seed, start_batch)


def cached_features(records, labels, preprocessor, data_config):
    """Returns the unbatched (features, one-hot label) examples, tokenized once: the cache
    is filled by the first full pass and shared by every pipeline built on it.

    Args:
        records: list of Record with known labels.
        labels: the label vocabulary (a label's index is its class id).
        preprocessor: from `build_preprocessor`.
        data_config: the config's `data` section.
    """
    index = {label: i for i, label in enumerate(labels)}
    ids = np.array([index[r.label] for r in records], np.int32)
    to_features = features_fn(preprocessor, data_config.cleaning)
    dataset = tf.data.Dataset.from_tensor_slices((segments(records), ids))
    dataset = dataset.batch(TOKENIZE_BATCH).map(
        lambda texts, y: (to_features(*texts), tf.one_hot(y, len(labels))),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    # unbatch() loses the cardinality; restoring it lets Keras size validation runs.
    dataset = dataset.unbatch().apply(tf.data.experimental.assert_cardinality(len(records)))
    return dataset.cache()


def batches(examples, data_config, training, seed=0, start_batch=0):
    """Batches `cached_features`: the endless `stream.training_stream` from `start_batch`
    when `training`, otherwise one pass in order, the last batch partial.
    `data_config.padding` decides the batches' widths (see `trim_padding`).

    Args:
        examples: from `cached_features`.
        data_config: the config's `data` section.
        training: the shuffled training stream of full batches (so throughput
            counts are exact), or one pass in order.
        seed: shuffle seed.
        start_batch: the training stream's first batch (a resumed run's step).
    """
    if training:
        buckets = (length_buckets(data_config.max_seq_length)
                   if data_config.padding == "bucketed" else None)
        batched = stream.training_stream(examples, data_config.batch_size,
                                         data_config.shuffle_buffer, seed, start_batch,
                                         length=real_length if buckets else None,
                                         bucket_boundaries=buckets)
    else:
        batched = examples.batch(data_config.batch_size)
    if data_config.padding != "static":
        batched = batched.map(trim_padding, num_parallel_calls=tf.data.AUTOTUNE)
    return batched.prefetch(tf.data.AUTOTUNE)


def real_length(features, labels):
    """Non-padding tokens of one example."""
    del labels
    return tf.reduce_sum(tf.cast(features["padding_mask"], tf.int32))


def length_buckets(max_length, width=8):
    """Bucket boundaries every `width` tokens: a bucket's examples differ by fewer than
    `width` tokens, so cutting a batch to its longest wastes little."""
    return list(range(width + 1, max_length + 1, width))


def trim_padding(features, labels, multiple=8):
    """Cuts a batch to its longest example, rounded up to a multiple of `multiple`.

    Attention masks padding, so the real positions compute the same values;
    a batch of short texts no longer pays for data.max_seq_length positions
    in every layer. Rounding keeps the number of distinct shapes small.
    """
    longest = tf.reduce_max(tf.reduce_sum(tf.cast(features["padding_mask"], tf.int32), axis=1))
    width = tf.minimum((longest + multiple - 1) // multiple * multiple,
                       tf.shape(features["token_ids"])[1])
    return {key: value[:, :width] for key, value in features.items()}, labels


def mean_tokens(dataset):
    """Mean non-padding tokens per example over one pass of a finite dataset."""
    tokens = examples = 0
    for features, _ in dataset:
        mask = features["padding_mask"].numpy()
        tokens += int(mask.sum())
        examples += mask.shape[0]
    return tokens / max(examples, 1)
