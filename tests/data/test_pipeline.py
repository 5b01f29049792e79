import numpy as np
import tensorflow as tf

from tests.helpers import smoke_config
from tfllm.data import pipeline
from tfllm.data import tokenizer
from tfllm.data.records import Record

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


def test_training_batches_are_full_shuffled_and_repeatable():
    data = smoke_config().data
    data.batch_size = 4
    records = [Record(f"hello {'world ' * (i % 3)}", "ab"[i % 2]) for i in range(10)]
    dataset = pipeline.classification_dataset(records, ["a", "b"], preprocessor(), data, True)
    batches = [labels.shape[0] for _, labels in dataset]
    assert batches == [4, 4]  # the partial batch of 2 is dropped
    assert dataset.cardinality().numpy() == 2
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
