"""Self-speculative greedy decoding: a cheap draft proposes k tokens, one cached pass of
the model keeps those its own greedy choice agrees with (so the text is the model's)."""


import keras
import tensorflow as tf
from tfllm.generation.steps import finished_rows, greedy_ids, greedy_step, seed_cache


def draft_round(draft, tokens, cache, index, count, caught_up):
    """Writes `count` greedy draft tokens at positions index .. index + count - 1.

    The draft cache holds every position before index - 1 when `caught_up`,
    else only those before index - 2 (after a round that accepted every
    draft, the draft has not run its own last one): the draft then runs one
    known token more, whose prediction is dropped. One token per call, in a
    loop: a two-token call costs nearly two one-token calls in bfloat16, and a
    `tf.cond` between the two cases about one more round of drafting (XLA,
    measured). Returns (tokens, cache).
    """
    batch = tf.shape(tokens)[0]

    def body(position, tokens, cache):
        token = tf.slice(tokens, [0, position], [batch, 1])
        logits, _, cache = draft.call_with_cache(token, cache, position)
        known = tf.slice(tokens, [0, position + 1], [batch, 1])
        guess = tf.where(position + 1 < index, known, greedy_ids(logits))
        return position + 1, keras.ops.slice_update(tokens, [0, position + 1], guess), cache

    first = index - 2 + tf.cast(caught_up, tf.int32)
    _, tokens, cache = tf.while_loop(lambda position, *_: position < index + count - 1, body,
                                     (first, tokens, cache))
    return tokens, cache


def verify_round(target, drafted, cache, index, count, finished, pad_id):
    """One cached pass of `target` over positions index - 1 .. index + count - 1 of `drafted`.

    Its greedy ids are the target's choices for positions index .. index + count
    given the drafts before each. The drafts are accepted up to the first
    position where any unfinished row disagrees (`accepted`, 0 .. count); the
    target's own ids fill positions index .. index + accepted (its correction
    at the first disagreement, or the bonus token after the last draft), and
    the rest are `pad_id`. Returns (ids [batch, count + 1], cache, accepted).
    """
    window = tf.slice(drafted, [0, index - 1], [tf.shape(drafted)[0], count + 1])
    logits, _, cache = target.call_with_cache(window, cache, index - 1)
    chosen = greedy_ids(logits)
    agree = tf.cast(tf.equal(window[:, 1:], chosen[:, :-1]), tf.int32)
    leading = tf.reduce_sum(tf.math.cumprod(agree, axis=1), axis=1)
    accepted = tf.reduce_min(tf.where(finished, count, leading))
    keep = tf.range(count + 1) <= accepted
    return tf.where(keep[None], chosen, pad_id), cache, accepted


def speculative_greedy(target, draft, prefix_ids, token_ids, limit, count, end_id, pad_id):
    """Greedy decoding of `target` with `count` tokens drafted by `draft` per target pass.

    `prefix_ids` is the prompt (one length for all rows) and `token_ids` the
    prompt padded to width + 1, where width >= `limit` is the cache size.
    Rounds run while their positions fit the width (the token after the last
    draft may land on the extra column); plain target steps finish the text
    up to `limit`. Stops early once every row has generated `end_id`.
    Positions past each row's first end id or `limit` may hold anything (the
    caller cuts them).

    Invariant at each round's `index` (the first unknown position): the
    target cache holds positions < index - 1, the draft cache < index - 1
    (`caught_up`) or, after a round that accepted every draft, < index - 2.
    Returns (token ids, tokens drafted, tokens accepted).
    """
    width = tf.shape(token_ids)[1] - 1
    start = tf.shape(prefix_ids)[1]
    target_cache = seed_cache(target, prefix_ids, width)
    draft_cache = seed_cache(draft, prefix_ids, width)
    tokens = token_ids

    def going(tokens, index):
        return (index < limit) & ~tf.reduce_all(finished_rows(tokens, start, index, end_id))

    def round_body(tokens, target_cache, draft_cache, caught_up, index, drafted, accepted):
        proposal, draft_cache = draft_round(draft, tokens, draft_cache, index, count, caught_up)
        finished = finished_rows(tokens, start, index, end_id)
        new, target_cache, kept = verify_round(target, proposal, target_cache, index, count,
                                               finished, pad_id)
        tokens = keras.ops.slice_update(tokens, [0, index], new)
        return (tokens, target_cache, draft_cache, kept < count, index + kept + 1,
                drafted + count, accepted + kept)

    def round_fits(tokens, target_cache, draft_cache, caught_up, index, drafted, accepted):
        return (index + count <= width) & going(tokens, index)

    tokens, target_cache, _, _, index, drafted, accepted = tf.while_loop(
        round_fits, round_body, (tokens, target_cache, draft_cache, tf.constant(True),
                                 start, tf.constant(0), tf.constant(0)))

    def step_body(tokens, cache, index):
        return greedy_step(target, tokens, cache, index) + (index + 1,)

    tokens, _, _ = tf.while_loop(lambda tokens, cache, index: going(tokens, index), step_body,
                                 (tokens, target_cache, index))
    return tokens, drafted, accepted
