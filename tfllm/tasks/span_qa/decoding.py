"""Best-span decoding for extractive QA: start/end logits of every window -> one answer text.

A span's score is start_logit + end_logit (the log of the product of start and
end probabilities, up to a constant shared by all spans of a window). Per
window, the `n_best` highest start and end logits among context tokens are
paired; a pair is a candidate when start <= end and it spans at most
`max_answer_length` tokens. The best candidate over all windows of an example
wins, and its text is sliced from the original context by character offsets, so
casing, accents and spacing come back exactly as written.

SQuAD v2.0: the null score of an example is the lowest [CLS] start+end score
over its windows (the window most sure there is an answer, as in BERT's
`run_squad.py`); the answer is "" when null score - best span score exceeds
`null_threshold`. With `null_threshold=None` (v1.1) a span is always returned.
"""

import dataclasses

import numpy as np
import tensorflow as tf

MODEL_FEATURES = ("token_ids", "segment_ids", "padding_mask")


@dataclasses.dataclass(frozen=True)
class Answer:
    """The decoded answer of one example.

    Args:
        text: the span of the original context, or "" for no answer.
        score: start + end logit of the best span (-inf when no window had context).
        null_score: lowest [CLS] start + end logit over the example's windows.
        start: char offset of the span in the context; -1 for no answer.
        end: char offset just past the span; -1 for no answer.
    """

    text: str
    score: float
    null_score: float
    start: int = -1
    end: int = -1


def decode_answers(start_logits, end_logits, offsets, example_index, contexts, *, n_best=20,
                   max_answer_length=30, null_threshold=None):
    """Returns one Answer per context.

    Args:
        start_logits: (windows, sequence_length) start scores, one row per window.
        end_logits: (windows, sequence_length) end scores.
        offsets: (windows, sequence_length, 2) [char_start, char_end) of each context
            token in its example's context, -1 for other tokens (QaWindows.offsets).
        example_index: (windows,) index into `contexts` of each window's example.
        contexts: the original context string of each example.
        n_best: start and end candidates kept per window.
        max_answer_length: longest answer in tokens.
        null_threshold: None to always answer (v1.1); else answer "" when the null
            score beats the best span score by more than this (v2.0; 0.0 is usual).
    """
    start_logits, end_logits = np.asarray(start_logits), np.asarray(end_logits)
    offsets, example_index = np.asarray(offsets), np.asarray(example_index)
    best = [(-np.inf, -1, -1) for _ in contexts]  # (score, char start, char end)
    null = [np.inf] * len(contexts)
    for w, example in enumerate(example_index):
        null[example] = min(null[example], float(start_logits[w, 0] + end_logits[w, 0]))
        span = _best_span(start_logits[w], end_logits[w], offsets[w], n_best, max_answer_length)
        if span[0] > best[example][0]:
            best[example] = span
    answers = []
    for context, (score, start, end), null_score in zip(contexts, best, null, strict=True):
        if start < 0 or (null_threshold is not None and null_score - score > null_threshold):
            answers.append(Answer("", score, null_score))
        else:
            answers.append(Answer(context[start:end], score, null_score, start, end))
    return answers


def _best_span(start_logits, end_logits, offsets, n_best, max_answer_length):
    """(score, char start, char end) of the best span of one window; (-inf, -1, -1) if none."""
    context = np.flatnonzero(offsets[:, 0] >= 0)
    if not context.size:
        return -np.inf, -1, -1
    starts = _top(context, start_logits, n_best)
    ends = _top(context, end_logits, n_best)
    scores = start_logits[starts][:, None] + end_logits[ends][None, :]  # (starts, ends)
    length = ends[None, :] - starts[:, None] + 1
    scores = np.where((length >= 1) & (length <= max_answer_length), scores, -np.inf)
    i, j = np.unravel_index(np.argmax(scores), scores.shape)
    if not np.isfinite(scores[i, j]):
        return -np.inf, -1, -1
    return float(scores[i, j]), int(offsets[starts[i], 0]), int(offsets[ends[j], 1])


def _top(positions, logits, n):
    """The (at most) n positions of `positions` with the highest logits."""
    if len(positions) > n:
        positions = positions[np.argpartition(-logits[positions], n - 1)[:n]]
    return positions


def null_threshold(config):
    """The decoding threshold of a resolved config: None (always answer) or a float."""
    return config.data.null_threshold if config.data.allow_no_answer == "yes" else None


def window_logits(model, windows, batch_size=64):
    """(start logits, end logits) of every window, each (windows, sequence_length) float32."""
    features = windows.features()
    chunks = []
    for begin in range(0, len(windows.token_ids), batch_size):
        batch = {key: features[key][begin:begin + batch_size] for key in MODEL_FEATURES}
        chunks.append(tf.cast(model(batch, training=False), tf.float32).numpy())
    logits = np.concatenate(chunks)
    return logits[:, :, 0], logits[:, :, 1]


def decode(model, windows, examples, config):
    """The Answer of each example from the model's logits on its windows."""
    start_logits, end_logits = window_logits(model, windows)
    return decode_answers(
        start_logits, end_logits, windows.offsets, windows.example_index,
        [e.context for e in examples], n_best=config.data.n_best,
        max_answer_length=config.data.max_answer_length, null_threshold=null_threshold(config))
