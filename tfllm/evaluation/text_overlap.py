"""Generated text against references: corpus BLEU, ROUGE-1/2/L and exact match.

BLEU is keras-hub's, which replicates SacreBLEU (its 13a tokenizer, no
smoothing, brevity penalty over the corpus). ROUGE is keras-hub's RougeN
and RougeL, which run Google's rouge-score package: F1 per example,
averaged. Exact match compares texts after stripping and collapsing
whitespace.
"""

import keras_hub
import numpy as np
import tensorflow as tf


def _normalized(text):
    return " ".join(text.split())


def exact_match(predictions, references):
    """Share of predictions equal to their reference, up to whitespace."""
    if not predictions:
        return 0.0
    return float(np.mean([_normalized(p) == _normalized(r)
                          for p, r in zip(predictions, references, strict=True)]))


def _rouge_f1(metric, predictions, references):
    metric.update_state(tf.constant(references), tf.constant(predictions))
    return float(metric.result()["f1_score"])


def overlap_report(predictions, references):
    """{"bleu", "rouge1", "rouge2", "rougeL", "exact_match", "examples"}; scores in [0, 1].

    Args:
        predictions: generated texts.
        references: one reference text per prediction.
    """
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    bleu = keras_hub.metrics.Bleu()
    bleu.update_state(tf.constant([[r] for r in references]), tf.constant(predictions))
    return {
        "examples": len(predictions),
        "bleu": float(bleu.result()),
        "rouge1": _rouge_f1(keras_hub.metrics.RougeN(order=1), predictions, references),
        "rouge2": _rouge_f1(keras_hub.metrics.RougeN(order=2), predictions, references),
        "rougeL": _rouge_f1(keras_hub.metrics.RougeL(), predictions, references),
        "exact_match": exact_match(predictions, references),
    }
