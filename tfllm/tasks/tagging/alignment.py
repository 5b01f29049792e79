"""Word-level tags -> WordPiece model features, in TensorFlow ops.

Token classification data comes as words with one tag each, but a BERT model
sees WordPiece tokens: "unbelievable" may become "un ##believ ##able". Here the
FIRST piece of each word carries the word's tag id and every other position
([CLS], [SEP], padding, later pieces of a word) carries IGNORE_LABEL (-1), which
the loss masks (`keras.losses.SparseCategoricalCrossentropy(ignore_class=-1)`)
and metrics skip. Each position also records the index of the word it starts
(or -1), so the model's per-token predictions map back to words (`word_values`).

Everything runs as TensorFlow / tensorflow_text ops (no py_function), so the
same `TagAligner` works eagerly, inside tf.data, and inside an exported
SavedModel served without Python. Pieces come from keras-hub's own
pretokenization (lower-casing, accent stripping and punctuation splitting as the
BertTokenizer is configured) and tf_text.FastWordpieceTokenizer built as
keras-hub builds it, so a word gets exactly the pieces the tokenizer gives it.
A word that pretokenization splits further ("U.S." -> "u . s .") is still one
word: all its pieces but the first are ignored. A word with no pieces at all
(only control characters) becomes [UNK], so every word keeps a position.

Sentences longer than the sequence length are NOT silently cut: the features
are truncated to fit the fixed shape, but `num_tokens` says how many positions
the sentence needed, and `check_fits` reports every sentence that did not fit.

Raw text for prediction is split into words with `split_words` (keras-hub's
own split pattern, so words match those pretokenization makes), with offsets.
"""

import keras_hub
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

# Private keras-hub module: the only home of the pretokenizer and its patterns,
# which must match the BertTokenizer exactly (pinned keras-hub 0.32).
from keras_hub.src.tokenizers import word_piece_tokenizer as keras_hub_wordpiece

from tfllm.data.tokenizer import build_tokenizer
from tfllm.errors import DataError

IGNORE_LABEL = -1  # label of positions the loss and metrics must skip
NO_WORD = -1  # word_index of positions that start no word


class TagAligner(tf.Module):
    """Builds BERT token-classification features from pre-split words.

    Args:
        tokenizer: a keras_hub WordPieceTokenizer (e.g. BertTokenizer), or a
            vocabulary (list of tokens or vocab.txt path) to build one from.
        sequence_length: positions per example, [CLS] and [SEP] included.
        lowercase: only used when `tokenizer` is a vocabulary.

    Example:
    >>> vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##do"]
    >>> aligner = TagAligner(vocabulary, sequence_length=6)
    >>> features = aligner(tf.ragged.constant([["undo"]]), tf.ragged.constant([[3]]))
    >>> features["labels"].numpy().tolist()
    [[-1, 3, -1, -1, -1, -1]]
    """

    def __init__(self, tokenizer, sequence_length, lowercase=False):
        super().__init__()
        if not isinstance(tokenizer, keras_hub.tokenizers.WordPieceTokenizer):
            tokenizer = build_tokenizer(tokenizer, lowercase=lowercase)
        if sequence_length < 3:
            raise ValueError(f"sequence_length must be at least 3, got {sequence_length}")
        self.sequence_length = int(sequence_length)
        vocabulary = tokenizer.get_vocabulary()
        self.cls_id, self.sep_id, self.pad_id, self.unk_id = (
            vocabulary.index(token) for token in ("[CLS]", "[SEP]", "[PAD]", tokenizer.oov_token)
        )
        self._pretokenize_args = (
            tokenizer.lowercase,
            tokenizer.strip_accents,
            tokenizer.split,
            tokenizer.split_on_cjk,
            # What the tokenizer's own tokenize() passes (None unless
            # special_tokens_in_strings is set).
            keras_hub_wordpiece.get_special_tokens_pattern(
                tokenizer._special_tokens_for_splitting()  # pylint: disable=protected-access
            ),
        )
        # Built here, outside any tf.data function, with keras-hub's arguments.
        self._wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=vocabulary,
            token_out_type=tf.int32,
            suffix_indicator=tokenizer.suffix_indicator,
            unknown_token=tokenizer.oov_token,
            no_pretokenization=True,
        )

    def word_pieces(self, words):
        """Returns the piece ids of each word: int32 ragged [batch, words, pieces].

        Every word has at least one piece ([UNK] when it would have none).
        """
        subwords = keras_hub_wordpiece.pretokenize(words, *self._pretokenize_args)
        pieces = self._wordpiece.tokenize(subwords).merge_dims(-2, -1)  # [batch, words, pieces]
        flat = pieces.values  # [all words, pieces]
        # Dense with an extra [UNK] column, then cut back to max(pieces, 1) per word.
        dense = flat.to_tensor(default_value=self.unk_id)
        dense = tf.concat([dense, tf.fill([tf.shape(dense)[0], 1], self.unk_id)], axis=1)
        fixed = tf.RaggedTensor.from_tensor(dense, lengths=tf.maximum(flat.row_lengths(), 1))
        return pieces.with_values(fixed)

    # Plain TF ops, no Python control flow on tensors: autograph would only slow tracing.
    @tf.autograph.experimental.do_not_convert
    def __call__(self, words, tag_ids=None):
        """Returns the features of a batch (or of one example: rank 1 in, rank 1 out).

        Args:
            words: string words, ragged [batch, words] (or [words]).
            tag_ids: optional int tag ids, one per word, same shape as `words`.

        Returns:
            A dict of [batch, sequence_length] tensors: token_ids, segment_ids
            (int32, zeros), padding_mask (bool), word_index (int32: the word a
            position starts, else -1) and, with `tag_ids`, labels (int32: the
            word's tag id on its first piece, else -1); plus num_tokens
            ([batch] int32): positions the example needs with [CLS] and [SEP]
            (more than sequence_length means it was truncated).
        """
        words, unbatched = _as_ragged_batch(words)
        pieces = self.word_pieces(words)  # [batch, words, pieces]
        sentence_pieces = pieces.merge_dims(1, 2)  # [batch, pieces]
        per_word = pieces.values.row_lengths()  # pieces of each word, all words flattened
        first = tf.ragged.range(per_word).flat_values == 0  # is a piece its word's first?

        def first_piece(word_values):  # [all words] -> ragged [batch, pieces], -1 elsewhere
            values = tf.where(first, tf.repeat(word_values, per_word), -1)
            return sentence_pieces.with_flat_values(values)

        num_tokens = tf.cast(sentence_pieces.row_lengths(), tf.int32) + 2
        word_in_sentence = tf.cast(tf.ragged.range(words.row_lengths()).flat_values, tf.int32)
        length = self.sequence_length
        features = {
            "token_ids": self._pack(sentence_pieces, self.cls_id, self.sep_id, self.pad_id),
            "segment_ids": tf.zeros([words.nrows(), length], tf.int32),
            "padding_mask": tf.sequence_mask(tf.minimum(num_tokens, length), length),
            "word_index": self._pack(first_piece(word_in_sentence), NO_WORD, NO_WORD, NO_WORD),
            "num_tokens": num_tokens,
        }
        if tag_ids is not None:
            tag_ids, _ = _as_ragged_batch(tag_ids)
            check = tf.debugging.assert_equal(words.row_lengths(), tag_ids.row_lengths(),
                                              message="words and tag_ids differ in length")
            with tf.control_dependencies([check] if check is not None else []):  # None: eager
                labels = first_piece(tf.cast(tag_ids.values, tf.int32))
            features["labels"] = self._pack(labels, IGNORE_LABEL, IGNORE_LABEL, IGNORE_LABEL)
        if unbatched:
            features = {name: value[0] for name, value in features.items()}
        return features

    def _pack(self, values, start, end, pad):
        """[start] + values (truncated) + [end], padded: dense [batch, sequence_length]."""
        length = self.sequence_length
        body = values.to_tensor(default_value=pad, shape=[None, length - 2])  # truncates
        kept = tf.cast(tf.minimum(values.row_lengths(), length - 2), tf.int32)
        rows = tf.shape(body)[0]
        packed = tf.concat([tf.fill([rows, 1], start), body, tf.fill([rows, 1], pad)], axis=1)
        return tf.where(tf.range(length)[None, :] == kept[:, None] + 1, end, packed)

    def count_tokens(self, sentences, batch_size=1024):
        """Returns num_tokens (numpy int32) of each list of words, batched eagerly."""
        counts = [np.zeros([0], np.int32)]
        for begin in range(0, len(sentences), batch_size):
            chunk = [list(words) for words in sentences[begin : begin + batch_size]]
            batch = tf.ragged.constant(chunk, dtype=tf.string, ragged_rank=1)
            counts.append(self(batch)["num_tokens"].numpy())
        return np.concatenate(counts)


def _as_ragged_batch(tensor):
    """Returns (ragged [batch, n], whether the input was one rank-1 example)."""
    if isinstance(tensor, tf.RaggedTensor):
        return tensor, False
    tensor = tf.convert_to_tensor(tensor)
    if tensor.shape.rank == 1:
        return tf.RaggedTensor.from_tensor(tensor[None]), True
    return tf.RaggedTensor.from_tensor(tensor), False


def word_values(token_values, word_index):
    """Maps per-token values (predictions, scores) back to words.

    Args:
        token_values: [batch, sequence_length, ...] values of each position.
        word_index: the aligner's word_index feature.

    Returns:
        Ragged [batch, words, ...]: the value at each word's first piece, in word
        order (a truncated sentence has fewer words than its input).
    """
    return tf.ragged.boolean_mask(token_values, word_index != NO_WORD)


def check_fits(sentences, aligner):
    """Raises DataError naming every sentence too long for the aligner's sequence length.

    Args:
        sentences: objects with `tokens` (words) and `origin` ("path:line"),
            e.g. tagging.TaggedSentence.
        aligner: the TagAligner the features will be built with.
    """
    counts = aligner.count_tokens([s.tokens for s in sentences])
    length = aligner.sequence_length
    long = [(s.origin, int(n)) for s, n in zip(sentences, counts, strict=True) if n > length]
    if long:
        listed = ", ".join(f"{origin} ({n} tokens)" for origin, n in long[:5])
        more = f" and {len(long) - 5} more" if len(long) > 5 else ""
        raise DataError(
            f"{len(long)} sentences need more than sequence_length={length} tokens ([CLS] "
            f"and [SEP] included): {listed}{more}; expected at most {length}: raise the "
            "sequence length or split these sentences"
        )


def split_words(texts, split_on_cjk=True):
    """Splits raw strings into words as keras-hub's pretokenizer does, with offsets.

    Whitespace and control characters separate words; each punctuation mark
    (and, with `split_on_cjk`, each CJK character) is a word of its own. Case
    and accents are left as written: the aligner applies the tokenizer's own.

    Args:
        texts: string tensor [batch] (or a scalar).

    Returns:
        (words, starts, ends): ragged [batch, words] strings and int64 offsets.
        Offsets are in UTF-8 BYTES of the text (what tf_text reports); use
        `tfllm.serving.offsets.char_index` for Python str indices.
    """
    texts = tf.convert_to_tensor(texts, tf.string)
    if split_on_cjk:
        pattern = keras_hub_wordpiece.WHITESPACE_PUNCTUATION_AND_CJK_REGEX
        keep = keras_hub_wordpiece.PUNCTUATION_AND_CJK_REGEX
    else:
        pattern = keras_hub_wordpiece.WHITESPACE_AND_PUNCTUATION_REGEX
        keep = keras_hub_wordpiece.PUNCTUATION_REGEX
    return tf_text.regex_split_with_offsets(texts, pattern, keep)

