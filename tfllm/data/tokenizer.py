"""WordPiece vocabulary (learned or given) and the keras-hub tokenizer built on it.

Learning runs tensorflow-text's BERT vocabulary learner directly rather than
keras-hub's `compute_word_piece_vocabulary` wrapper, because the wrapper hides
`lower_thresh`: at its default of 10 a corpus of a few thousand sentences yields
under 600 tokens, and most words then fall apart into characters.
"""

import keras_hub
import tensorflow as tf
from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset

from tfllm import damaged
from tfllm.data.line_files import write_lines
from tfllm.errors import DataError

RESERVED_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VOCABULARY_FILE = "a BERT vocab.txt: UTF-8, one token per line, each once"


def learn_vocabulary(texts, vocabulary_size, min_frequency=2):
    """Learns a WordPiece vocabulary (special tokens first) from cleaned texts.

    Args:
        texts: iterable of strings, already cleaned (case included), because
            the tokenizer itself does no lower-casing.
        vocabulary_size: upper bound on the number of tokens.
        min_frequency: a word must occur about this often to become a token.
    """
    dataset = tf.data.Dataset.from_tensor_slices(list(texts)).batch(1024)
    return bert_vocab_from_dataset.bert_vocab_from_dataset(
        dataset,
        vocab_size=vocabulary_size,
        reserved_tokens=RESERVED_TOKENS,
        bert_tokenizer_params={"lower_case": False},
        learn_params={"lower_thresh": min_frequency},
    )


def save_vocabulary(vocabulary, path):
    """Writes one token per line (the BERT vocab.txt format)."""
    write_lines(path, vocabulary)


def load_vocabulary(path):
    """Reads a BERT vocab.txt and checks it has the special tokens keras-hub's BertTokenizer
    needs, and no empty or repeated token (which the tokenizer would refuse with a bare
    RuntimeError, or which a damaged file shows)."""
    vocabulary = damaged.read_lines(path, VOCABULARY_FILE)
    damaged.check_entries(path, vocabulary, "token", VOCABULARY_FILE)
    missing = [t for t in RESERVED_TOKENS if t not in vocabulary]
    if missing:
        raise DataError(f"{path}: vocabulary lacks special tokens {missing}")
    return vocabulary


def build_tokenizer(vocabulary, lowercase=False):
    """Returns keras-hub's BertTokenizer over `vocabulary` (a list or a vocab.txt path).

    Lower-casing is normally the cleaning step's job (`data.cleaning.lowercase`),
    so the same choice holds for training, evaluation and the exported graph;
    `lowercase=True` (uncased pretrained checkpoints) also strips accents, as
    their tokenizer did in pretraining.
    """
    return keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=lowercase,
                                          strip_accents=lowercase)
