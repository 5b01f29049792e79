"""The serving module of an extractive-QA model: raw question and context strings in, the
answer span out, everything in the graph.

This module is the only inference path: `SpanQA` (predict, evaluate) and the task's
evaluation trace `QaModule.windows` and `QaModule.answers` with tf.function and call
the model between them (`predictor.TracedQa`). The steps use core TensorFlow and tensorflow-text ops
(no py_function), so TF Serving needs only the SavedModel directory:

1. Tokenization with offsets (`GraphOffsetTokenizer`): keras-hub's split
   regexes, per-word normalization, FastWordpiece with offsets, and, for
   uncased vocabularies, the character-by-character mapping of offsets inside a
   normalized word back to the original characters, as `OffsetTokenizer` does
   for the training windows.
2. Windows (`windows`): [CLS] question [SEP] context-window [SEP] [PAD]...,
   max_seq_length wide, the question cut to max_query_length tokens, window
   starts doc_stride context tokens apart until one reaches the end of the
   context, as `qa_windows.build_windows` lays the training windows. There is no
   cap on windows per context: the export runs a request's windows (all of them,
   for every context) through the model as one batch, so a very long context
   costs memory in proportion to its length.
3. Decoding (`best_spans`, `answers`): a span's score is start_logit + end_logit.
   The n_best start and end logits among a window's context tokens are paired,
   start <= end, at most max_answer_length tokens; the best window wins (the
   first on ties). The null score of an example is the lowest [CLS] start + end
   score over its windows (the window most sure there is an answer, as in BERT's
   `run_squad.py`); with no-answer allowed the answer is "" when the null score
   beats the best span's by more than null_threshold.

Outputs, [batch] each: `answer` (string, cut from the context by UTF-8 byte
offsets, so casing, accents and spacing come back as written), `score` (float32,
start + end logit; the [CLS] score for ""), `start` and `end` (int32 character
offsets into the context, as Python's str indexing counts them; -1 for "").
"""

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text
from keras_hub.src.tokenizers import word_piece_tokenizer as wp

from tfllm.serving.untracked import Untracked
from tfllm.serving.offsets import char_index
from tfllm.workdir import Paths

MODEL_FEATURES = ("token_ids", "segment_ids", "padding_mask")
OUTPUTS = ("answer", "score", "start", "end")  # serving_default's
WARMUP = [("Where was Zoë born?", "Zoë Kim was born in São Paulo in 1901 ."), ("", "")]
_BIG = np.iinfo(np.int32).max


def _dense(ragged, width_at_least=1, default=0):
    """A ragged [rows, None] tensor as dense [rows, max(longest, width_at_least)]."""
    dense = ragged.to_tensor(default)
    pad = tf.maximum(width_at_least - tf.shape(dense)[1], 0)
    return tf.pad(dense, [[0, 0], [0, pad]], constant_values=default)


class GraphOffsetTokenizer(tf.Module):
    """`qa_windows.OffsetTokenizer` in TensorFlow ops: ragged ids and UTF-8 byte offsets.

    Args:
        tokenizer: the keras-hub (Bert)WordPieceTokenizer the run trained with.
    """

    def __init__(self, tokenizer):
        super().__init__(name="offset_tokenizer")
        self.lowercase, self.strip_accents = tokenizer.lowercase, tokenizer.strip_accents
        if tokenizer.split_on_cjk:
            self._split = wp.WHITESPACE_PUNCTUATION_AND_CJK_REGEX
            self._keep = wp.PUNCTUATION_AND_CJK_REGEX
        else:
            self._split, self._keep = wp.WHITESPACE_AND_PUNCTUATION_REGEX, wp.PUNCTUATION_REGEX
        self.word_piece = tf_text.FastWordpieceTokenizer(
            vocab=tokenizer.get_vocabulary(), suffix_indicator=tokenizer.suffix_indicator,
            unknown_token=tokenizer.oov_token, no_pretokenization=True,
            support_detokenization=False, token_out_type=tf.int32)

    def _normalize(self, words):
        if self.strip_accents:
            words = tf.strings.regex_replace(tf_text.normalize_utf8(words, "NFD"), r"\p{Mn}", "")
        if self.lowercase:
            words = tf_text.case_fold_utf8(words)
        return words

    def __call__(self, texts):
        """(ids, byte starts, byte ends), each ragged [batch, tokens], of a [batch] string."""
        words, word_starts, _ = tf_text.regex_split_with_offsets(texts, self._split, self._keep)
        flat_words = words.flat_values
        normalized = self._normalize(flat_words)
        pieces, starts, ends = self.word_piece.tokenize_with_offsets(normalized)  # [words, P]
        starts, ends = tf.cast(starts, tf.int64), tf.cast(ends, tf.int64)
        if self.lowercase or self.strip_accents:
            starts, ends = self._map_back(flat_words, normalized, starts, ends)
        word_start = tf.gather(word_starts.flat_values, pieces.value_rowids())
        by_text = words.row_splits

        def regroup(flat_values):  # per-piece values -> ragged [batch, tokens]
            nested = tf.RaggedTensor.from_row_splits(pieces.with_flat_values(flat_values),
                                                     by_text)
            return nested.merge_dims(1, 2)

        return (regroup(pieces.flat_values), regroup(word_start + starts.flat_values),
                regroup(word_start + ends.flat_values))

    def _map_back(self, words, normalized, starts, ends):
        """Offsets inside normalized words (ragged [words, pieces]) -> inside the originals."""
        chars, char_starts = tf.strings.unicode_split_with_offsets(words, "UTF-8")
        char_outs = chars.with_flat_values(self._normalize(chars.flat_values))
        exact = tf.strings.reduce_join(char_outs, axis=1) == normalized
        # cum_end[w, c]: normalized bytes up to the end of character c; then a sentinel.
        cum_end = tf.cast(tf.cumsum(tf.strings.length(char_outs).to_tensor(0), axis=1), tf.int64)
        cum_end = tf.pad(cum_end, [[0, 0], [0, 1]], constant_values=_BIG)
        char_start = _dense(char_starts)
        chars_in_word = chars.row_lengths()[:, None]
        word_length = tf.cast(tf.strings.length(words), tf.int64)[:, None]
        piece_start, piece_end = _dense(starts), _dense(ends)

        def char_of(byte):  # the character whose normalized bytes hold `byte`
            return tf.searchsorted(cum_end, byte, side="right", out_type=tf.int64)

        first_char = char_of(tf.zeros_like(word_length))  # the first one not normalized away
        begin_char = char_of(piece_start)
        begin = tf.where(begin_char == first_char, tf.zeros_like(piece_start),
                         _take(char_start, begin_char))
        # A piece ends where the next character that normalization keeps begins (characters
        # normalized away, such as accents, join the one before them), or at the word's end.
        following = char_of(_take(cum_end, char_of(piece_end - 1)))
        end = tf.where(following < chars_in_word, _take(char_start, following), word_length)
        # Not character by character (NFKC composing across characters): the whole word.
        begin = tf.where(exact[:, None], begin, tf.zeros_like(begin))
        end = tf.where(exact[:, None], end, tf.broadcast_to(word_length, tf.shape(end)))
        changed = (words != normalized)[:, None]
        lengths = starts.row_lengths()
        return (tf.RaggedTensor.from_tensor(tf.where(changed, begin, piece_start), lengths),
                tf.RaggedTensor.from_tensor(tf.where(changed, end, piece_end), lengths))


def _take(dense, index):
    """dense[row, index[row, ...]] per row, the index clipped into the row (batch gather)."""
    index = tf.clip_by_value(index, 0, tf.cast(tf.shape(dense)[1], index.dtype) - 1)
    return tf.gather(dense, index, batch_dims=1)


def windows(question_ids, context_ids, specials, sequence_length, max_query_length,
            doc_stride):
    """The windows of each (question, context) pair, as `qa_windows.build_windows` lays them.

    Args:
        question_ids, context_ids: ragged int32 [batch, tokens].
        specials: ([CLS], [SEP], [PAD]) ids.

    Returns:
        (features of [windows, sequence_length], the example of each window [windows],
        the context token at each position [windows, sequence_length] (-1: not context)).
    """
    cls, sep, pad = specials
    question_ids = question_ids[:, :max_query_length]
    question_length = question_ids.row_lengths()  # [batch] int64
    context_length = context_ids.row_lengths()
    room = sequence_length - question_length - 3  # context tokens per window
    more = tf.maximum(context_length - room, 0)
    count = 1 + (more + doc_stride - 1) // doc_stride  # windows per example
    example = tf.repeat(tf.range(tf.size(count, tf.int64)), count)  # [windows]
    start = tf.ragged.range(count).flat_values * doc_stride  # first context token of each
    q = tf.gather(question_length, example)[:, None]
    n = tf.minimum(tf.gather(room, example), tf.gather(context_length, example) - start)[:, None]
    j = tf.range(sequence_length, dtype=tf.int64)[None, :]  # [1, sequence_length]
    token = start[:, None] + j - q - 2  # context token at position j
    is_context = (j >= q + 2) & (j < q + 2 + n)
    question = tf.gather(_dense(question_ids), example)
    context = tf.gather(_dense(context_ids), example)
    question_at = tf.broadcast_to(j - 1, tf.shape(token))  # question token at position j
    ids = tf.where(j == 0, cls, tf.where(j <= q, _take(question, question_at), pad))
    ids = tf.where((j == q + 1) | (j == q + 2 + n), sep, ids)
    ids = tf.where(is_context, _take(context, token), ids)
    features = {
        "token_ids": tf.cast(ids, tf.int32),
        "segment_ids": tf.cast((j >= q + 2) & (j <= q + 2 + n), tf.int32),
        "padding_mask": j < q + 3 + n,
    }
    return features, example, tf.where(is_context, token, -1)


def best_spans(start_logits, end_logits, context_token, example, batch_size, n_best,
               max_answer_length):
    """The best span of each example over its windows (step 3 of the module docstring).

    Returns:
        (score, context token of the start, of the end, window), each [batch]; score -inf
        when no window has a valid span. And the null ([CLS]) score of each example.
    """
    is_context = context_token >= 0
    minus_inf = tf.constant(-np.inf, tf.float32)
    k = tf.minimum(n_best, tf.shape(start_logits)[1])
    top_start, start_at = tf.math.top_k(tf.where(is_context, start_logits, minus_inf), k)
    top_end, end_at = tf.math.top_k(tf.where(is_context, end_logits, minus_inf), k)
    scores = top_start[:, :, None] + top_end[:, None, :]  # [windows, starts, ends]
    length = end_at[:, None, :] - start_at[:, :, None] + 1
    valid = (length >= 1) & (length <= max_answer_length) & tf.math.is_finite(scores)
    scores = tf.reshape(tf.where(valid, scores, minus_inf), [tf.shape(scores)[0], -1])
    best = tf.argmax(scores, axis=1, output_type=tf.int32)
    # No span: the lowest float rather than -inf, as the segment max below starts from it.
    lowest = tf.float32.min
    window_score = tf.maximum(tf.reduce_max(scores, axis=1), lowest)
    window_start = tf.gather(start_at, best // k, batch_dims=1)
    window_end = tf.gather(end_at, best % k, batch_dims=1)
    example_score = tf.math.unsorted_segment_max(window_score, example, batch_size)
    windows_count = tf.shape(example, out_type=tf.int64)[0]
    first = tf.where(window_score >= tf.gather(example_score, example),
                     tf.range(windows_count), windows_count)
    window = tf.math.unsorted_segment_min(first, example, batch_size)  # the first best one
    example_score = tf.where(example_score > lowest, example_score, minus_inf)
    null = tf.math.unsorted_segment_min(start_logits[:, 0] + end_logits[:, 0], example,
                                        batch_size)

    def token(positions):  # the context token at the chosen window's position
        at = tf.gather(positions, window)
        return tf.gather(tf.gather(context_token, window), at[:, None], batch_dims=1)[:, 0]

    return example_score, token(window_start), token(window_end), window, null


def answers(start_logits, end_logits, context_token, example, byte_starts, byte_ends, context,
            n_best, max_answer_length, null_threshold=None):
    """The answer of each context from the start and end logits of its windows.

    Args:
        start_logits, end_logits: float32 [windows, sequence_length].
        context_token, example: as `windows` returns them.
        byte_starts, byte_ends: ragged [batch, tokens] UTF-8 offsets of the context tokens.
        context: [batch] strings, the contexts the answers are cut from.
        null_threshold: None to always answer (SQuAD v1.1); else "" when the null score
            beats the best span's by more than this (v2.0).

    Returns:
        {"answer", "score", "start", "end"} as `serve_text` gives them, and "span_score"
        (the best span's, -inf when no window has one) and "null_score", [batch] each.
    """
    score, first, last, _, null = best_spans(start_logits, end_logits, context_token, example,
                                             tf.size(context), n_best, max_answer_length)
    answered = tf.math.is_finite(score)
    if null_threshold is not None:  # float64: a float32 difference could round across it
        answered &= (tf.cast(null, tf.float64) - tf.cast(score, tf.float64)
                     <= null_threshold)
    zero = tf.zeros_like(first)  # unanswered: an empty substring, in range
    byte_start = tf.where(answered, _take(_dense(byte_starts), first[:, None])[:, 0], zero)
    byte_end = tf.where(answered, _take(_dense(byte_ends), last[:, None])[:, 0], zero)
    text = tf.strings.substr(context, byte_start, byte_end - byte_start)
    chars = char_index(context, tf.stack([byte_start, byte_end], axis=1))
    return {
        "answer": tf.where(answered, text, ""),
        "score": tf.where(answered, score, null),
        "start": tf.where(answered, chars[:, 0], -1),
        "end": tf.where(answered, chars[:, 1], -1),
        "span_score": score,
        "null_score": null,
    }


class QaModule(tf.Module):
    """Serving functions over a trained span-QA model.

    Args:
        model: the Keras span model (takes token_ids, segment_ids, padding_mask).
        tokenizer: the run's keras-hub BertTokenizer.
        data_config: the run's resolved `data` section (window sizes, decoding settings).
    """

    def __init__(self, model, tokenizer, data_config):
        super().__init__(name="tfllm_span_qa")
        # As in ClassifierModule: variables tracked once, the Keras model not at all.
        self._model = Untracked(model)
        self.model_variables = [variable.value for variable in model.variables]
        self.tokenizer = GraphOffsetTokenizer(tokenizer)
        self._specials = tuple(tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]"))
        self._data = {key: data_config[key] for key in (
            "max_seq_length", "max_query_length", "doc_stride", "n_best", "max_answer_length",
            "null_threshold")}
        self._allow_no_answer = data_config.allow_no_answer == "yes"

    def logits(self, features):
        """[windows, sequence_length, 2] float32 start and end logits."""
        return tf.cast(self._model.value(features, training=False), tf.float32)

    def windows(self, question, context):
        """(window features, example of each window, context token at each position, context
        tokens' byte starts, byte ends) of [batch] question and context strings."""
        data = self._data
        question_ids, _, _ = self.tokenizer(question)
        context_ids, byte_starts, byte_ends = self.tokenizer(context)
        features, example, context_token = windows(
            question_ids, context_ids, self._specials, data["max_seq_length"],
            data["max_query_length"], data["doc_stride"])
        return features, example, context_token, byte_starts, byte_ends

    def answers(self, start_logits, end_logits, context_token, example, byte_starts,
                byte_ends, context):
        """`answers` with the run's decoding settings (null_threshold only where the run
        allows no answer)."""
        data = self._data
        return answers(start_logits, end_logits, context_token, example, byte_starts,
                       byte_ends, context, data["n_best"], data["max_answer_length"],
                       data["null_threshold"] if self._allow_no_answer else None)

    def serve_text(self, question, context):
        features, example, context_token, byte_starts, byte_ends = self.windows(question,
                                                                                context)
        logits = self.logits(features)  # [windows, sequence_length, 2]
        found = self.answers(logits[:, :, 0], logits[:, :, 1], context_token, example,
                             byte_starts, byte_ends, context)
        return {key: found[key] for key in OUTPUTS}

    def serve_token_ids(self, token_ids, segment_ids, padding_mask):
        logits = self.logits({"token_ids": token_ids, "segment_ids": segment_ids,
                               "padding_mask": padding_mask})
        return {"start_logits": logits[:, :, 0], "end_logits": logits[:, :, 1]}

    def signatures(self):
        """Returns the concrete functions to save, by signature name."""
        default = tf.function(self.serve_text).get_concrete_function(
            tf.TensorSpec([None], tf.string, name="question"),
            tf.TensorSpec([None], tf.string, name="context"))
        token_ids = tf.function(self.serve_token_ids).get_concrete_function(
            tf.TensorSpec([None, None], tf.int32, name="token_ids"),
            tf.TensorSpec([None, None], tf.int32, name="segment_ids"),
            tf.TensorSpec([None, None], tf.bool, name="padding_mask"))
        return {"serving_default": default, "serve_token_ids": token_ids}


def export_parts(span_qa):
    """(module, warmup requests) of a loaded SpanQA, its vocabulary as an asset."""
    module = QaModule(span_qa.model, span_qa.tokenizer, span_qa.config.data)
    module.vocabulary_file = tf.saved_model.Asset(Paths(span_qa.workdir).vocabulary)
    questions, contexts = ([pair[i] for pair in WARMUP] for i in (0, 1))
    features = module.windows(tf.constant(questions), tf.constant(contexts))[0]
    return module, [
        ("serving_default", {"question": np.array(questions, dtype=object),
                             "context": np.array(contexts, dtype=object)}),
        ("serve_token_ids", {key: np.asarray(features[key]) for key in MODEL_FEATURES}),
    ]
