"""Byte offsets to character offsets in the graph: tokenizers report UTF-8 bytes, users
count characters (the tagger's entity spans, span QA's answers)."""

import numpy as np
import tensorflow as tf


def char_index(texts, byte_offsets):
    """Character (code point) index of UTF-8 byte offsets: int64 [batch, n] -> int32."""
    _, char_starts = tf.strings.unicode_decode_with_offsets(texts, "UTF-8", errors="replace")
    sorted_starts = char_starts.to_tensor(default_value=np.iinfo(np.int64).max)
    return tf.cast(tf.searchsorted(sorted_starts, byte_offsets, side="left"), tf.int32)
