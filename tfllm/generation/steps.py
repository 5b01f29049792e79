"""The cached forward steps every decoding loop is made of: seed the cache with a prompt
prefix, one step's logits, greedy choice, rows that have ended, a cast copy of the model."""


import keras
import tensorflow as tf


def seed_cache(causal_lm, prefix_ids, width):
    """Runs the shared prompt prefix through the causal LM once; returns the filled cache.

    keras-hub's `generate_step` seeds its cache with a forward pass over
    every position of the padded batch, logits included; only the prefix
    that all prompts share by position (the shortest prompt's length) is
    needed, and no logits, because the first decoding step recomputes the
    prefix's last position. The cache keeps the full `width`. Works for
    GPT-2 (learned positions) and Llama (rotary positions, grouped key/value
    heads) backbones alike.
    """
    backbone = causal_lm.backbone
    batch = tf.shape(prefix_ids)[0]
    query_heads = getattr(backbone, "num_query_heads", None) or backbone.num_heads
    key_value_heads = getattr(backbone, "num_key_value_heads", None) or query_heads
    cache = tf.zeros([batch, backbone.num_layers, 2, width, key_value_heads,
                      backbone.hidden_dim // query_heads], dtype=causal_lm.compute_dtype)
    x = backbone.token_embedding(prefix_ids)
    if hasattr(backbone, "position_embedding"):
        x = backbone.embeddings_add((x, backbone.position_embedding(x, start_index=0)))
    caches = []
    for i, layer in enumerate(backbone.transformer_layers):
        x, layer_cache = layer(x, self_attention_cache=cache[:, i, ...],
                               self_attention_cache_update_index=0)
        caches.append(layer_cache)
    return tf.stack(caches, axis=1)


def step_logits(causal_lm, token_ids, cache, index):
    """Logits for position `index` from the token before it; returns (logits, hidden, cache)."""
    # A static slice size (1), or XLA sees a dynamic shape and slows down.
    token = tf.slice(token_ids, [0, index - 1], [tf.shape(token_ids)[0], 1])
    logits, hidden, cache = causal_lm.call_with_cache(token, cache, index - 1)
    return tf.squeeze(logits, 1), tf.squeeze(hidden, 1), cache


def cast_copy(causal_lm, dtype):
    """A copy of a keras-hub causal LM whose weights are stored and computed in `dtype`.

    Decoding one row reads every weight once per new token, so at batch 1 it is
    bound by memory bandwidth, not arithmetic: bfloat16 weights halve the bytes
    read and nearly double the speed of a real-size model (BENCHMARKS.md).
    Rounding the weights moves the logits slightly, so a greedy continuation
    can part from the float32 model's where two tokens were nearly tied.
    """
    config = causal_lm.backbone.get_config()
    config["dtype"] = dtype
    backbone = type(causal_lm.backbone).from_config(config)
    for target, source in zip(backbone.weights, causal_lm.backbone.weights, strict=True):
        target.assign(tf.cast(source, target.dtype))
    return type(causal_lm)(backbone=backbone, preprocessor=None)


def pad_id_for(end_id):
    """An id for unwritten positions that is not the stop id (keras-hub's sampler
    stops once every row holds a stop id past its prompt)."""
    return 1 if end_id == 0 else 0


def greedy_ids(logits):
    """Greedy ids over the last axis, computed as keras-hub's GreedySampler does (argmax
    of the float32 softmax), so that ties resolve exactly as on the plain greedy path."""
    probabilities = keras.activations.softmax(tf.cast(logits, tf.float32))
    return tf.cast(tf.argmax(probabilities, axis=-1), tf.int32)


def greedy_step(causal_lm, tokens, cache, index):
    """Writes the greedy token for position `index` (one cached step); returns (tokens, cache)."""
    logits, _, cache = step_logits(causal_lm, tokens, cache, index)
    return keras.ops.slice_update(tokens, [0, index], greedy_ids(logits)[:, None]), cache


def finished_rows(tokens, start, index, end_id):
    """True for each row holding `end_id` among its new positions start .. index - 1."""
    positions = tf.range(tf.shape(tokens)[1])
    new = (positions >= start) & (positions < index)
    return tf.reduce_any((tokens == end_id) & new[None], axis=1)
