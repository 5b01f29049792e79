"""Language-model evaluation: perplexity over packed blocks and a unigram baseline.

Perplexity is exp(mean negative log-likelihood per target token), counting
only tokens with non-zero weight (responses, not prompts; never padding). The
unigram baseline is what a model that ignores context scores on the same
tokens, so a perplexity can be read against it.
"""

import math

import numpy as np
import tensorflow as tf

from tfllm.errors import DataError


def token_losses(model, dataset):
    """Returns (sum of weighted NLL in nats, sum of weights) over ({features}, targets, weights)."""
    total, count = 0.0, 0.0

    @tf.function(reduce_retracing=True)
    def batch_loss(features, targets, weights):
        logits = tf.cast(model(features, training=False), tf.float32)
        nll = tf.keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
        weights = tf.cast(weights, tf.float32)
        return tf.reduce_sum(nll * weights), tf.reduce_sum(weights)

    for features, targets, weights in dataset:
        loss, weight = batch_loss(features, targets, weights)
        total += float(loss)
        count += float(weight)
    return total, count


def perplexity_report(model, dataset, source):
    """Returns {"source", "loss", "perplexity", "tokens"} of `model` on `dataset`."""
    total, count = token_losses(model, dataset)
    if not count:
        raise DataError(f"{source}: no tokens to score")
    loss = total / count
    return {"source": source, "loss": loss, "perplexity": math.exp(loss), "tokens": int(count)}


def unigram_perplexity(train_ids, vocabulary_size, targets, weights):
    """Perplexity of add-one-smoothed unigram frequencies of `train_ids` on weighted `targets`.

    Give it the training tokens the model itself learned to predict, so both
    are scored on the same kind of tokens.
    """
    counts = np.bincount(np.asarray(train_ids).ravel(), minlength=vocabulary_size) + 1.0
    log_probs = np.log(counts / counts.sum())
    targets, weights = np.asarray(targets).ravel(), np.asarray(weights, np.float64).ravel()
    nll = -(log_probs[targets] * weights).sum() / weights.sum()
    return float(math.exp(nll))


def print_report(report):
    """Prints a perplexity report (and its --generate scores): language models and seq2seq."""
    print(f"{report['source']}: perplexity {report['perplexity']:.2f} (loss "
          f"{report['loss']:.4f} nats/token) on {report['tokens']} tokens")
    if "generation" in report:
        scores = report["generation"]
        print(f"greedy completions of {scores['examples']} prompts against their responses:")
        print("  ".join(f"{name} {scores[name]:.4f}"
                        for name in ("bleu", "rouge1", "rouge2", "rougeL", "exact_match")))
