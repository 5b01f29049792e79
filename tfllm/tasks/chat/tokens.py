"""Chat tokenization: byte-level BPE exactly as the checkpoint's tokenizer splits text, with
special tokens taken only from the template's own text.

`ExactBytePairTokenizer` is keras-hub's BytePairTokenizer (its merge engine, cache and
vocabulary tables) behind a pre-tokenizer that splits text as the `tokenizers` library
does. keras-hub's own split is tuned to Llama 3: it keeps "\\n\\n" before a word together
and cuts the last space off a run of spaces, where GPT-2-style tokenizers (SmolLM2's,
tfllm's learned ones) do the opposite, so the same text got other ids than the
checkpoint was trained on. The split here runs in the graph (RE2, no lookahead): the
GPT-2 rule "a run of whitespace leaves its last character to what follows" is made by
cutting each such run before its last character with a marker, then splitting with
GPT-2's alternatives. "smollm" (SmolLM2's tokenizer.json, llama.cpp's pre-tokenizer of
that name) first cuts every digit apart.

`ChatTokenizer.encode` tokenizes rendered segments: in template text the special token
strings (`<|im_start|>`, `<|im_end|>`, the checkpoint's BOS/EOS/pad) become their single
ids; message contents are plain text, so a user who types "<|im_end|>" gets the pieces
of that text and cannot end the turn. Each token comes back with the byte range of the
rendering it covers, from which `data` finds the assistant's tokens.
"""

import re

import keras
import keras_hub
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from tfllm.errors import DataError

# Unicode White_Space, as the `tokenizers` library's \s (RE2's \s is ASCII only).
_WS = r"\t\n\x{0b}\f\r\x{85}\p{Z}"
# Cuts a whitespace run before its last character; a private-use character, refused in text.
CUT = "\ue000"
# Pre-tokenizer name -> whether digits are cut apart first (then GPT-2's split).
PRETOKENIZERS = {"gpt2": False, "smollm": True}
_BATCH = 1024  # texts per tokenizer call


def _patterns(digits):
    """(cut pattern, split pattern) in RE2 for GPT-2's pre-tokenizer (digits cut apart first)."""
    number = r"\pN" if digits else r" ?\pN+"
    # A run before a digit ends its digit-free piece, so it is not cut there.
    follower = f"[^{_WS}\\pN]" if digits else f"[^{_WS}]"
    cut = f"([{_WS}])([{_WS}])({follower})"
    split = (rf"'s|'t|'re|'ve|'m|'ll|'d| ?\pL+|{number}| ?[^{_WS}\pL\pN{CUT}]+|[{_WS}]+|{CUT}")
    return cut, split


@keras.saving.register_keras_serializable(package="tfllm")
class ExactBytePairTokenizer(keras_hub.tokenizers.BytePairTokenizer):
    """Byte-level BPE that pre-tokenizes as the `tokenizers` library does; no special tokens.

    Args:
        vocabulary: token -> id (byte-level strings).
        merges: "a b" merge rules, in priority order.
        pretokenizer: "gpt2" (GPT-2's ByteLevel split) or "smollm" (digits apart, then GPT-2's).

    Example:
    >>> tokenizer = ExactBytePairTokenizer({"Ċ": 0, "H": 1, "i": 2, "Hi": 3, "ĊĊ": 4},
    ...                                    ["H i", "Ċ Ċ"])
    >>> tokenizer(["Hi\\n\\nHi"]).to_list()  # GPT-2: "\\n" and "\\n" before a word
    [[3, 0, 0, 3]]
    """

    def __init__(self, vocabulary=None, merges=None, pretokenizer="gpt2", **kwargs):
        if pretokenizer not in PRETOKENIZERS:
            raise ValueError(f"pretokenizer={pretokenizer!r}; expected one of "
                             f"{', '.join(PRETOKENIZERS)}")
        self.pretokenizer = pretokenizer
        self._cut, self._split = _patterns(PRETOKENIZERS[pretokenizer])
        kwargs.pop("unsplittable_tokens", None)
        super().__init__(vocabulary=vocabulary, merges=merges, unsplittable_tokens=[], **kwargs)

    def pieces(self, texts):
        """Pre-tokens of a 1-D string tensor: ragged [texts, pieces]."""
        marked = tf.strings.regex_replace(texts, self._cut, "\\1" + CUT + "\\2\\3")
        pieces = tf_text.regex_split(marked, self._split, self._split)
        return tf.ragged.boolean_mask(pieces, tf.not_equal(pieces, CUT))

    def _merge(self, words):
        """BPE ids of each pre-token (1-D string tensor): ragged [words, ids], through the
        cache keras-hub's own tokenize fills."""
        self._maybe_initialized_tf()
        cached = self.cache.lookup(words)
        unseen = tf.equal(cached, "") & tf.not_equal(words, "")

        def merge_unseen():
            self._bpe_merge_and_update_cache_tf(tf.boolean_mask(words, unseen))
            return self.cache.lookup(words)

        merged = tf.cond(tf.reduce_any(unseen), merge_unseen, lambda: cached)
        return self.token_to_id_map.lookup(tf.strings.split(merged, sep=" "))

    def tokenize(self, inputs):
        self._check_vocabulary()
        inputs = tf.convert_to_tensor(inputs, tf.string)
        if inputs.shape.rank not in (0, 1):
            raise ValueError(f"tokenize() takes a string or a 1-D batch of strings; got shape "
                             f"{inputs.shape}")
        unbatched = inputs.shape.rank == 0
        texts = tf.reshape(inputs, [-1])
        pieces = self.pieces(texts)
        ids = self._merge(pieces.flat_values)
        ids = tf.RaggedTensor.from_row_splits(ids.flat_values,
                                              tf.gather(ids.row_splits, pieces.row_splits))
        ids = tf.cast(ids, self.compute_dtype)
        if self.sequence_length:  # padded or cut, as keras-hub's tokenizers do
            ids = ids.to_tensor(shape=[None, self.sequence_length])
        return ids[0] if unbatched else ids

    def get_config(self):
        config = super().get_config()
        config["pretokenizer"] = self.pretokenizer
        return config


class ChatTokenizer:
    """Tokens of rendered chat segments: special tokens from template text only.

    Args:
        vocabulary: token -> id.
        merges: "a b" merge rules.
        special_tokens: the strings that are one token when the template writes them
            (a GGUF's CONTROL tokens, a tokenizer.json's added tokens, BOS/EOS/pad).
        pretokenizer: see ExactBytePairTokenizer.
    """

    def __init__(self, vocabulary, merges, special_tokens, pretokenizer="gpt2"):
        missing = [t for t in special_tokens if t not in vocabulary]
        if missing:
            raise DataError(f"special token(s) {', '.join(map(repr, missing))} are not in the "
                            "vocabulary; each must be one token of it")
        self.vocabulary = vocabulary
        self.special_tokens = tuple(special_tokens)
        self.text_tokenizer = ExactBytePairTokenizer(vocabulary, merges, pretokenizer)
        longest_first = sorted(self.special_tokens, key=len, reverse=True)
        self._special = (re.compile("|".join(map(re.escape, longest_first)))
                         if longest_first else None)
        # Bytes each id stands for: byte-level tokens have one character per byte.
        self._bytes = np.zeros(max(vocabulary.values()) + 1, np.int64)
        for token, token_id in vocabulary.items():
            self._bytes[token_id] = len(token)
        self._tokenize = tf.function(self.text_tokenizer.tokenize,
                                     input_signature=[tf.TensorSpec([None], tf.string)])

    def find_special(self, text):
        """[(start, end, token)] character spans of the special tokens written in `text`."""
        if self._special is None:
            return []
        return [(m.start(), m.end(), m.group()) for m in self._special.finditer(text)]

    def tokenize(self, texts):
        """Plain-text ids of each string (special-token strings are text here): int32 arrays."""
        if not texts:
            return []
        for text in texts:
            if CUT in text:
                raise DataError(f"text contains U+E000 (a private-use character), which tfllm's "
                                f"tokenizer reserves: {text[:60]!r}")
        ids = []
        for start in range(0, len(texts), _BATCH):
            ragged = self._tokenize(tf.constant(texts[start:start + _BATCH], tf.string))
            ids += [np.asarray(row, np.int32) for row in ragged.to_list()]
        return ids

    def encode(self, segments):
        """(ids, starts, ends, special) of one rendering; see `encode_batch`."""
        return self.encode_batch([segments])[0]

    def encode_batch(self, renderings):
        """For each list of segments: (ids, starts, ends, special): the int32 ids of the
        segments' concatenation, each token's byte range in its UTF-8 encoding, and True where
        a token is a special token the template wrote. One tokenizer call for all of them."""
        plans = [self._plan(segments) for segments in renderings]
        runs = iter(self.tokenize([text for plan in plans for text, _ in plan if text]))
        return [self._assemble(plan, runs) for plan in plans]

    def _plan(self, segments):
        """[(text run, None) or (None, special token)]: runs of text between the special
        tokens found in template text; a run may cross from template text into a content."""
        items, run = [], []
        for segment in segments:
            at = 0
            spans = [] if segment.message is not None else self.find_special(segment.text)
            for start, end, token in spans:
                run.append(segment.text[at:start])
                items += [("".join(run), None), (None, token)]
                run, at = [], end
            run.append(segment.text[at:])
        return items + [("".join(run), None)]

    def _assemble(self, plan, runs):
        ids, lengths = [np.zeros(0, np.int32)], [np.zeros(0, np.int64)]
        special = [np.zeros(0, bool)]
        for text, token in plan:
            if token is not None:
                ids.append(np.array([self.vocabulary[token]], np.int32))
                lengths.append(np.array([len(token.encode("utf-8"))]))
                special.append(np.ones(1, bool))
            elif text:
                run_ids = next(runs)
                run_bytes = self._bytes[run_ids]
                if run_bytes.sum() != len(text.encode("utf-8")):
                    raise DataError(f"the vocabulary's tokens for {text[:40]!r} do not spell its "
                                    "bytes; expected a byte-level BPE vocabulary")
                ids.append(run_ids)
                lengths.append(run_bytes)
                special.append(np.zeros(len(run_ids), bool))
        lengths = np.concatenate(lengths).astype(np.int64)
        ends = np.cumsum(lengths)
        return np.concatenate(ids), ends - lengths, ends, np.concatenate(special)
