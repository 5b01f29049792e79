"""The exported model's token choice: greedy, top-k, top-p and seeds, in the graph."""

import numpy as np
import tensorflow as tf

from tfllm.tasks.language_model.serving import choose_tokens

LOGITS = tf.constant(np.random.default_rng(0).normal(0, 2, size=(64, 50)), tf.float32)
GREEDY = np.argmax(LOGITS.numpy(), axis=-1)


def choose(temperature, top_k, top_p, seed=0, position=3):
    return choose_tokens(LOGITS, tf.constant(temperature), tf.constant(top_k),
                         tf.constant(top_p), tf.constant(seed), tf.constant(position)).numpy()


def test_temperature_zero_is_greedy():
    assert (choose(0.0, 0, 1.0) == GREEDY).all()


def test_top_k_one_and_top_p_zero_keep_only_the_most_likely_token():
    assert (choose(2.0, 1, 1.0, seed=5) == GREEDY).all()
    assert (choose(2.0, 0, 0.0, seed=5) == GREEDY).all()


def test_top_k_keeps_the_k_most_likely():
    top3 = np.argsort(-LOGITS.numpy(), axis=-1)[:, :3]
    for seed in range(5):
        chosen = choose(5.0, 3, 1.0, seed=seed)
        assert all(token in row for token, row in zip(chosen, top3))


def test_top_p_keeps_the_smallest_set_holding_p():
    probabilities = tf.nn.softmax(LOGITS).numpy()
    for seed in range(5):
        chosen = choose(1.0, 0, 0.5, seed=seed)
        for row, token in zip(probabilities, chosen):
            ordered = np.sort(row)[::-1]
            before = np.cumsum(ordered) - ordered
            assert row[token] >= ordered[before < 0.5].min()


def test_same_seed_and_position_same_tokens():
    assert (choose(1.0, 0, 1.0, seed=7) == choose(1.0, 0, 1.0, seed=7)).all()
    assert (choose(1.0, 0, 1.0, seed=7) != choose(1.0, 0, 1.0, seed=8)).any()
    assert (choose(1.0, 0, 1.0, seed=7, position=4) != choose(1.0, 0, 1.0, seed=7)).any()
