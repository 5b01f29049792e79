import keras
import numpy as np
import tensorflow as tf

from tests.helpers import smoke_config
from tfllm.data import pipeline
from tfllm.data import tokenizer
from tfllm.data.records import Record
from tfllm.tasks.classification import task as classification
from tfllm.models import encoder

VOCABULARY = tokenizer.RESERVED_TOKENS + ["hello", "world", "good", "bye"]


def preprocessor(length=8):
    return pipeline.build_preprocessor(tokenizer.build_tokenizer(VOCABULARY), length)


def test_single_sentence_is_packed_cls_text_sep_and_cleaned():
    data = smoke_config().data
    records = [Record("  HELLO   World ", "a"), Record("good bye", "b")]
    dataset = pipeline.classification_dataset(records, ["a", "b"], preprocessor(), data, False)
    features, labels = next(iter(dataset))
    assert features["token_ids"].numpy().tolist() == [
        [2, 5, 6, 3, 0, 0, 0, 0], [2, 7, 8, 3, 0, 0, 0, 0]]
    assert features["padding_mask"].numpy().sum(axis=1).tolist() == [4, 4]
    np.testing.assert_array_equal(labels.numpy(), [[1, 0], [0, 1]])


def test_pairs_are_packed_with_segment_ids_and_truncated_round_robin():
    data = smoke_config().data
    records = [Record("hello world hello world", "a", text_pair="good bye good bye")]
    dataset = pipeline.classification_dataset(records, ["a", "b"], preprocessor(8), data, False)
    features, _ = next(iter(dataset))
    # 8 slots: [CLS] + 3 + [SEP] + 2 + [SEP]; round-robin keeps the first segment longer.
    assert features["token_ids"].numpy().tolist() == [[2, 5, 6, 5, 3, 7, 8, 3]]
    assert features["segment_ids"].numpy().tolist() == [[0, 0, 0, 0, 0, 1, 1, 1]]


def test_training_stream_is_full_batches_that_a_resumed_run_can_start_anywhere():
    data = smoke_config().data
    data.batch_size = 4
    records = [Record(f"hello {'world ' * (i % 3)}", "ab"[i % 2]) for i in range(10)]

    def ids(start_batch, batches):
        stream = pipeline.classification_dataset(records, ["a", "b"], preprocessor(), data, True,
                                                 start_batch=start_batch)
        return [features["token_ids"].numpy() for features, _ in stream.take(batches)]

    stream = ids(0, 6)  # three passes of 2 full batches: the partial batch of 2 is dropped
    assert [batch.shape[0] for batch in stream] == [4] * 6
    passes = [np.concatenate(stream[i:i + 2]).tolist() for i in (0, 2, 4)]
    assert passes[0] != passes[1] != passes[2]  # reshuffled every pass
    for start in (1, 3, 4):  # a fresh pipeline started at batch n yields batch n on
        np.testing.assert_array_equal(np.stack(ids(start, 2)), np.stack(stream[start:start + 2]))
    validation = pipeline.classification_dataset(records, ["a", "b"], preprocessor(), data, False)
    assert [labels.shape[0] for _, labels in validation] == [4, 4, 2]


def test_mean_tokens_counts_non_padding():
    data = smoke_config().data
    records = [Record("hello", "a"), Record("hello world good", "b")]
    dataset = pipeline.classification_dataset(records, ["a", "b"], preprocessor(), data, False)
    assert pipeline.mean_tokens(dataset) == (3 + 5) / 2


def test_features_fn_matches_inside_tf_data_and_eagerly():
    to_features = pipeline.features_fn(preprocessor(), smoke_config().data.cleaning)
    texts = tf.constant(["Hello WORLD", "bye"])
    eager = to_features(texts)["token_ids"].numpy()
    mapped = next(iter(tf.data.Dataset.from_tensors(texts).map(to_features)))["token_ids"].numpy()
    np.testing.assert_array_equal(eager, mapped)


def test_dynamic_padding_cuts_batches_without_changing_what_the_model_computes():
    data = smoke_config().data
    data.batch_size, data.max_seq_length = 4, 24
    records = [Record("hello " * n, "ab"[n % 2]) for n in (1, 2, 3, 9, 2, 1, 4, 3)]
    trimmed = list(pipeline.classification_dataset(records, ["a", "b"], preprocessor(24),
                                                   data, False))
    data.padding = "static"
    full = list(pipeline.classification_dataset(records, ["a", "b"], preprocessor(24),
                                                data, False))
    # Longest examples: 11 tokens ([CLS] + 9 + [SEP]) -> 16; 6 -> 8.
    assert [f["token_ids"].shape[1] for f, _ in trimmed] == [16, 8]
    assert [f["token_ids"].shape[1] for f, _ in full] == [24, 24]

    keras.utils.set_random_seed(0)
    config = smoke_config()
    model, _ = classification.build(encoder.resolve(config, len(VOCABULARY)), len(VOCABULARY), 2)
    for (short, _), (padded, _) in zip(trimmed, full, strict=True):
        np.testing.assert_allclose(model(short, training=False), model(padded, training=False),
                                   atol=1e-5)
        width = short["token_ids"].shape[1]
        assert np.array_equal(short["token_ids"], padded["token_ids"][:, :width])
        assert not padded["padding_mask"].numpy()[:, width:].any()  # only padding was cut


def test_bucketed_batches_hold_similar_lengths_and_drop_no_example():
    data = smoke_config().data
    data.batch_size, data.max_seq_length = 4, 40
    assert data.padding == "bucketed"
    records = [Record(f"w{i} " + "hello " * (i % 24), "ab"[i % 2]) for i in range(48)]
    stream = pipeline.classification_dataset(records, ["a", "b"], preprocessor(40), data, True)
    seen = []
    for features, _ in stream.take(24):  # two passes' worth of batches
        lengths = features["padding_mask"].numpy().sum(axis=1)
        assert lengths.max() - lengths.min() < 8  # one 8-token bucket per batch
        assert features["token_ids"].shape[1] == -(-lengths.max() // 8) * 8  # cut to longest
        seen += lengths.tolist()
    assert set(seen) == {3 + k for k in range(24)}  # every length comes through, none is stuck
