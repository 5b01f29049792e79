"""Byte-level BPE for GPT models: learned or loaded vocab.json + merges.txt, keras-hub tokenizer.

The `tokenizers` library only learns the merges. Every tokenization at train,
evaluation and serving time runs in the TensorFlow graph through keras-hub's
BytePairTokenizer, so the exported model tokenizes exactly as training did.
Byte-level means no text is out of vocabulary: any Unicode round-trips.
"""

import json
import os

import keras_hub
from tokenizers import ByteLevelBPETokenizer

from tfllm import atomic
from tfllm import damaged
from tfllm.errors import DataError

END_OF_TEXT = "<|endoftext|>"
VOCAB_FILE = "vocab.json"
MERGES_FILE = "merges.txt"
_MERGES_HEADER = "#version: 0.2"
VOCAB_EXPECTED = "a GPT-2 vocab.json: a JSON object mapping each token to its own id"
MERGES_EXPECTED = "a GPT-2 merges.txt: a '#version' line, then one 'a b' merge per line"


def learn(texts, vocabulary_size, min_frequency=2, special_tokens=(END_OF_TEXT,)):
    """Learns (vocabulary dict, merges list) from texts; `special_tokens` get the first ids
    (END_OF_TEXT gets id 0 by default).

    Pre-tokenization matches GPT-2 (no prefix space), so the merges fit the
    keras-hub tokenizer that applies them.
    """
    learner = ByteLevelBPETokenizer(add_prefix_space=False)
    learner.train_from_iterator(
        texts, vocab_size=vocabulary_size, min_frequency=min_frequency,
        special_tokens=list(special_tokens), show_progress=False)
    model = json.loads(learner.to_str())["model"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    return model["vocab"], merges


def save(vocabulary, merges, directory):
    """Writes vocab.json and merges.txt (the GPT-2 file formats) into `directory`, each
    atomically (`atomic.WriteFailed` on a full disk)."""
    os.makedirs(directory, exist_ok=True)

    def write_vocabulary(temporary):
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump(vocabulary, f, ensure_ascii=False)

    def write_merges(temporary):
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(_MERGES_HEADER + "\n")
            f.writelines(f"{merge}\n" for merge in merges)

    atomic.replace(os.path.join(directory, VOCAB_FILE), write_vocabulary)
    atomic.replace(os.path.join(directory, MERGES_FILE), write_merges)


def load(directory, flag="--config.tokenizer.vocabulary", special_tokens=(END_OF_TEXT,)):
    """Reads vocab.json and merges.txt from a directory (GPT-2 format); returns (vocab, merges).

    Raises:
        DataError: a file is missing (the message names `flag`, the setting
            that pointed here) or malformed, or the vocabulary lacks one of
            `special_tokens` (the message names the file and line).
    """
    vocab_path = os.path.join(directory, VOCAB_FILE)
    merges_path = os.path.join(directory, MERGES_FILE)
    for path in (vocab_path, merges_path):
        if not os.path.isfile(path):
            raise DataError(f"{flag}: {path} not found; expected a directory with "
                            f"{VOCAB_FILE} and {MERGES_FILE}")
    vocabulary = damaged.read_json(vocab_path, VOCAB_EXPECTED)
    known = vocabulary if isinstance(vocabulary, dict) else {}
    missing = [token for token in special_tokens if token not in known]
    if not isinstance(vocabulary, dict) or missing:
        raise DataError(f"{vocab_path}: expected a JSON object mapping tokens to ids "
                        f"that includes {', '.join(repr(t) for t in missing)}")
    _check_ids(vocab_path, vocabulary)
    merges = _read_merges(merges_path)
    _check_merges(merges_path, merges, vocabulary)
    return vocabulary, [merge for _, merge in merges]


def _check_ids(path, vocabulary):
    """Each token's id is an integer >= 0 and no two tokens share one."""
    for token, token_id in vocabulary.items():
        if not isinstance(token_id, int) or isinstance(token_id, bool) or token_id < 0:
            raise damaged.error(path, f"token {token!r} has id {token_id!r}", VOCAB_EXPECTED)
    if len(set(vocabulary.values())) != len(vocabulary):
        repeated = len(vocabulary) - len(set(vocabulary.values()))
        raise damaged.error(path, f"{repeated} id(s) given to more than one token",
                            VOCAB_EXPECTED)


def _read_merges(path):
    """(line number, "a b") of each merge in merges.txt, in priority order."""
    lines = damaged.read_lines(path, MERGES_EXPECTED)
    if not lines:  # every writer puts the "#version" line first
        raise damaged.error(path, "the file is empty", MERGES_EXPECTED)
    merges = []
    for number, line in enumerate(lines, 1):
        if not line or line.startswith("#version"):
            continue
        if len(line.split(" ")) != 2:
            raise DataError(f"{path}:{number}: expected two tokens separated "
                            f"by one space, got {line!r}")
        merges.append((number, line))
    return merges


def _check_merges(path, merges, vocabulary):
    """Each merge joins two tokens of the vocabulary into a third: byte-level BPE builds its
    vocabulary that way, so a merge outside it is a damaged line (e.g. the last line of a file
    cut short) or merges of another vocabulary."""
    for number, merge in merges:
        first, second = merge.split(" ")
        absent = [t for t in (first, second, first + second) if t not in vocabulary]
        if absent:
            raise damaged.error(f"{path}:{number}", f"merge {merge!r} uses or makes "
                                f"{absent[0]!r}, which {VOCAB_FILE} lacks",
                                f"merges of the tokens of {VOCAB_FILE}")


def build_tokenizer(vocabulary, merges):
    """Returns keras-hub's GPT2Tokenizer (byte-level BPE, END_OF_TEXT as end token)."""
    return keras_hub.models.GPT2Tokenizer(vocabulary=vocabulary, merges=merges)
