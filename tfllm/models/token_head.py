"""The per-token head shape on a BERT backbone: one Dense layer over the token vectors.

Token classification (a tag distribution per position) and extractive QA (start and end
logits per position) both build their models with `per_token_model`.
"""

import keras


def per_token_model(backbone, width, dropout, logits_name, model_name):
    """BERT features -> (batch, seq, width) float32 logits from one Dense layer named
    `logits_name` on the token vectors: the shape of the tagging and extractive-QA heads."""
    inputs = {
        "token_ids": keras.Input((None,), dtype="int32", name="token_ids"),
        "segment_ids": keras.Input((None,), dtype="int32", name="segment_ids"),
        "padding_mask": keras.Input((None,), dtype="bool", name="padding_mask"),
    }
    # The [CLS] pooler gets no gradient from a per-token head; freezing it keeps the
    # optimizer from warning about (and decaying) weights that do nothing.
    backbone.get_layer("pooled_dense").trainable = False
    sequence = backbone(inputs)["sequence_output"]  # (batch, seq, hidden)
    sequence = keras.layers.Dropout(dropout, name="head_dropout")(sequence)
    logits = keras.layers.Dense(width, name=logits_name, dtype="float32")(sequence)
    return keras.Model(inputs, logits, name=model_name)
