"""Extractive QA training features for a BERT encoder: labelled windows over long contexts,
with character offsets.

Prediction and evaluation lay the same windows in the graph (`serving.windows`, over
`serving.GraphOffsetTokenizer`); the export tests check the two agree.

Each window is `[CLS] question [SEP] context-window [SEP] [PAD]...`, fixed at
`sequence_length` tokens (segment 0 up to the first [SEP], 1 after it, as in
BERT). Questions keep their first `max_query_length` tokens. A context too
long for one window is covered by windows whose starts are `doc_stride`
context tokens apart (the stride of Google's `run_squad.py`, not Hugging
Face's overlap), so every context token appears in some window with context
on both sides. Labels are token positions of the first gold answer; a window
that does not hold the whole answer, and every window of an unanswerable
question, points both at 0 ([CLS]): the model learns "no answer here".

Offsets. Answers must be cut from the original context, so every context token
carries its (char_start, char_end) in the original Python string. Tokens come
from the same pieces as keras-hub's WordPieceTokenizer (same split regexes,
normalization and tf_text.FastWordpieceTokenizer; token ids equal its own),
but through tf_text's `*_with_offsets` ops. Two differences in order make the
offsets exact: words are split on the text as given, then each word is
normalized (accent stripping, case folding) on its own, and WordPiece offsets
inside a normalized word are mapped back to the original characters by
normalizing the word's characters one by one. When a word's normalization is
not the sum of its characters' (NFKC case folding composing "e" + U+0301),
its pieces all get the word's whole span. tf_text offsets are UTF-8 bytes;
they become str indices here.
"""

import dataclasses

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text
from keras_hub.src.tokenizers import word_piece_tokenizer as wp

_BATCH = 512  # Texts per batch of tf_text calls.


@dataclasses.dataclass
class TokenizedText:
    """Token ids of one text and each token's [char_start, char_end) in it."""

    ids: np.ndarray  # (tokens,) int32
    starts: np.ndarray  # (tokens,) int32
    ends: np.ndarray  # (tokens,) int32


class OffsetTokenizer:
    """Tokenizes like a keras-hub (Bert)WordPieceTokenizer, also returning character offsets.

    Args:
        tokenizer: a keras_hub WordPieceTokenizer or BertTokenizer with `split=True`
            and no special tokens in strings (tfllm's `build_tokenizer` makes these).

    Example:
        >>> offsets = OffsetTokenizer(tfllm.data.tokenizer.build_tokenizer(vocab))
        >>> [piece] = offsets(["Café"])  # piece.ids, piece.starts, piece.ends
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        if not tokenizer.split or tokenizer.special_tokens_in_strings:
            raise ValueError("OffsetTokenizer needs a tokenizer with split=True and "
                             "special_tokens_in_strings=False")
        self.lowercase = tokenizer.lowercase
        self.strip_accents = tokenizer.strip_accents
        if tokenizer.split_on_cjk:
            self._split = wp.WHITESPACE_PUNCTUATION_AND_CJK_REGEX
            self._keep = wp.PUNCTUATION_AND_CJK_REGEX
        else:
            self._split, self._keep = wp.WHITESPACE_AND_PUNCTUATION_REGEX, wp.PUNCTUATION_REGEX
        self._word_piece = tf_text.FastWordpieceTokenizer(
            vocab=tokenizer.get_vocabulary(),
            suffix_indicator=tokenizer.suffix_indicator,
            unknown_token=tokenizer.oov_token,
            no_pretokenization=True,
            support_detokenization=False,
            token_out_type=tf.int32,
        )

    def __call__(self, texts):
        """Returns a list[TokenizedText], one per str in `texts`."""
        tokenized = []
        for i in range(0, len(texts), _BATCH):
            tokenized += self._batch(list(texts[i:i + _BATCH]))
        return tokenized

    def _normalize(self, words):
        """keras-hub's pretokenize normalization, applied to a 1-D tensor of words."""
        if self.strip_accents:
            words = tf.strings.regex_replace(tf_text.normalize_utf8(words, "NFD"), r"\p{Mn}", "")
        if self.lowercase:
            words = tf_text.case_fold_utf8(words)
        return words

    def _batch(self, texts):
        if not texts:
            return []
        encoded = [text.encode("utf-8") for text in texts]
        words, word_starts, _ = tf_text.regex_split_with_offsets(
            tf.constant(encoded, tf.string), self._split, self._keep)
        flat_words = words.flat_values
        normalized = self._normalize(flat_words)
        pieces, piece_starts, piece_ends = self._word_piece.tokenize_with_offsets(normalized)
        # Byte offsets in the original text: word start + offset inside the word.
        word_of_piece = pieces.value_rowids().numpy()
        word_start = word_starts.flat_values.numpy()[word_of_piece]
        starts = word_start + piece_starts.flat_values.numpy()
        ends = word_start + piece_ends.flat_values.numpy()
        originals, normals = flat_words.numpy(), normalized.numpy()
        changed = np.flatnonzero(originals != normals)
        if changed.size:
            piece_splits = pieces.row_splits.numpy()
            self._map_back(originals, normals, changed, piece_splits, word_start, starts, ends)
        text_of_piece = words.value_rowids().numpy()[word_of_piece]
        bounds = np.searchsorted(text_of_piece, np.arange(len(texts) + 1))
        ids = pieces.flat_values.numpy()
        return [_in_chars(raw, ids[a:b], starts[a:b], ends[a:b])
                for raw, a, b in zip(encoded, bounds[:-1], bounds[1:], strict=True)]

    def _map_back(self, originals, normals, changed, piece_splits, word_start, starts, ends):
        """Rewrites, in place, the byte offsets of pieces of words that normalization changed."""
        chars = [originals[w].decode("utf-8") for w in changed]
        flat = [c.encode("utf-8") for word in chars for c in word]
        char_norms = iter(self._normalize(tf.constant(flat, tf.string)).numpy())
        for w, word in zip(changed, chars, strict=True):
            # For each byte of the normalized word, the [start, end) of its original character;
            # characters normalized away (accents) join the character before them.
            begin_of, end_of, outs, at, last = [], [], [], 0, 0
            for c in word:
                size, out = len(c.encode("utf-8")), next(char_norms)
                if out:
                    begin_of += [at if begin_of else 0] * len(out)
                    end_of += [at + size] * len(out)
                    last = len(out)
                elif end_of:
                    end_of[-last:] = [at + size] * last
                outs.append(out)
                at += size
            exact = b"".join(outs) == normals[w]
            for p in range(piece_splits[w], piece_splits[w + 1]):
                inside_start, inside_end = starts[p] - word_start[p], ends[p] - word_start[p]
                if exact:
                    inside_start, inside_end = begin_of[inside_start], end_of[inside_end - 1]
                else:  # not character by character: the whole word
                    inside_start, inside_end = 0, at
                starts[p], ends[p] = word_start[p] + inside_start, word_start[p] + inside_end


def _in_chars(raw, ids, starts, ends):
    """Converts UTF-8 byte offsets into `raw` to str offsets."""
    is_lead = (np.frombuffer(raw, np.uint8) & 0xC0) != 0x80
    char_of_byte = np.append(np.cumsum(is_lead) - 1, is_lead.sum()).astype(np.int32)
    return TokenizedText(ids.astype(np.int32), char_of_byte[starts],
                         char_of_byte[np.maximum(ends - 1, 0)] + 1)


@dataclasses.dataclass
class QaWindows:
    """The windows of a list of QA examples, as numpy arrays of one row per window.

    Args:
        token_ids: (windows, sequence_length) int32.
        segment_ids: (windows, sequence_length) int32: 0 for [CLS] question [SEP], 1 after.
        padding_mask: (windows, sequence_length) bool.
        start_positions: (windows,) int32: token position of the answer's first token,
            or 0 ([CLS]) when the window does not hold the answer.
        end_positions: (windows,) int32: same for its last token.
        offsets: (windows, sequence_length, 2) int32: [char_start, char_end) of each
            context token in the original context; -1 elsewhere.
        example_index: (windows,) int32: index of the window's example in the input list.
    """

    token_ids: np.ndarray
    segment_ids: np.ndarray
    padding_mask: np.ndarray
    start_positions: np.ndarray
    end_positions: np.ndarray
    offsets: np.ndarray
    example_index: np.ndarray

    def features(self):
        """The model inputs, under keras-hub's feature names."""
        return {"token_ids": self.token_ids, "segment_ids": self.segment_ids,
                "padding_mask": self.padding_mask}


def build_windows(examples, tokenizer, *, sequence_length=384, max_query_length=64,
                  doc_stride=128):
    """Returns the QaWindows of `examples` (QaExamples without problems).

    Args:
        examples: list of tfllm.tasks.span_qa.squad.QaExample; use the good ones only.
        tokenizer: keras-hub BertTokenizer (or an OffsetTokenizer built on one).
        sequence_length: tokens per window, special tokens and padding included.
        max_query_length: question tokens kept (the first ones).
        doc_stride: context tokens between the starts of consecutive windows; at most
            the context room of a window, else tokens would fall between windows.
    """
    if not examples:
        raise ValueError("no examples to build QA windows from")
    bad = next((e for e in examples if e.problem), None)
    if bad is not None:
        raise ValueError(f"{bad.origin}: bad example ({bad.problem}); filter bad ones first")
    room = sequence_length - max_query_length - 3  # context tokens a window can hold, at least
    if room < 1 or not 1 <= doc_stride <= room:
        raise ValueError(f"need sequence_length > max_query_length + 3 and 1 <= doc_stride <= "
                         f"{room}; got {sequence_length}, {max_query_length}, {doc_stride}")
    if not isinstance(tokenizer, OffsetTokenizer):
        tokenizer = OffsetTokenizer(tokenizer)
    specials = [tokenizer.tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]")]
    contexts = sorted({e.context for e in examples})
    by_context = dict(zip(contexts, tokenizer(contexts), strict=True))
    questions = tokenizer([e.question for e in examples])
    rows = []
    for index, (example, question) in enumerate(zip(examples, questions, strict=True)):
        context = by_context[example.context]
        answer = _answer_tokens(example, context)
        for window_start in _window_starts(len(context.ids), sequence_length
                                           - min(len(question.ids), max_query_length) - 3,
                                           doc_stride):
            rows.append(_window(question.ids[:max_query_length], context, window_start,
                                answer, index, sequence_length, specials))
    return QaWindows(*(np.stack(column) for column in zip(*rows, strict=True)))


def _answer_tokens(example, context):
    """(first, last) context token of the first gold answer; None when unanswerable."""
    if example.is_impossible:
        return None
    text, char_start = example.answers[0]
    char_end = char_start + len(text)
    inside = np.flatnonzero((context.ends > char_start) & (context.starts < char_end))
    return (inside[0], inside[-1]) if inside.size else None


def _window_starts(length, room, stride):
    """Start token of each window: `stride` apart until one reaches the end of the context."""
    starts = [0]
    while starts[-1] + room < length:
        starts.append(starts[-1] + stride)
    return starts


def _window(question_ids, context, start, answer, index, sequence_length, specials):
    """One row: (token_ids, segment_ids, padding_mask, start, end, offsets, example index)."""
    cls, sep, pad = specials
    room = sequence_length - len(question_ids) - 3
    end = min(start + room, len(context.ids))
    first = len(question_ids) + 2  # position of the window's first context token
    ids = [cls, *question_ids, sep, *context.ids[start:end], sep]
    used = len(ids)
    token_ids = np.full(sequence_length, pad, np.int32)
    token_ids[:used] = ids
    segment_ids = np.zeros(sequence_length, np.int32)
    segment_ids[first:used] = 1
    offsets = np.full((sequence_length, 2), -1, np.int32)
    offsets[first:first + end - start, 0] = context.starts[start:end]
    offsets[first:first + end - start, 1] = context.ends[start:end]
    positions = (0, 0)
    if answer is not None and start <= answer[0] and answer[1] < end:
        positions = (first + answer[0] - start, first + answer[1] - start)
    return (token_ids, segment_ids, np.arange(sequence_length) < used, np.int32(positions[0]),
            np.int32(positions[1]), offsets, np.int32(index))
