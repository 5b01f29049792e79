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

from tfllm.errors import DataError

END_OF_TEXT = "<|endoftext|>"
VOCAB_FILE = "vocab.json"
MERGES_FILE = "merges.txt"
_MERGES_HEADER = "#version: 0.2"


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
    """Writes vocab.json and merges.txt (the GPT-2 file formats) into `directory`."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, VOCAB_FILE), "w", encoding="utf-8") as f:
        json.dump(vocabulary, f, ensure_ascii=False)
    with open(os.path.join(directory, MERGES_FILE), "w", encoding="utf-8") as f:
        f.write(_MERGES_HEADER + "\n")
        f.writelines(f"{merge}\n" for merge in merges)


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
    try:
        with open(vocab_path, encoding="utf-8") as f:
            vocabulary = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"{vocab_path}: not a JSON token-to-id map ({error})") from error
    known = vocabulary if isinstance(vocabulary, dict) else {}
    missing = [token for token in special_tokens if token not in known]
    if not isinstance(vocabulary, dict) or missing:
        raise DataError(f"{vocab_path}: expected a JSON object mapping tokens to ids "
                        f"that includes {', '.join(repr(t) for t in missing)}")
    merges = []
    with open(merges_path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#version"):
                continue
            if len(line.split(" ")) != 2:
                raise DataError(f"{merges_path}:{number}: expected two tokens separated "
                                f"by one space, got {line!r}")
            merges.append(line)
    return vocabulary, merges


def build_tokenizer(vocabulary, merges):
    """Returns keras-hub's GPT2Tokenizer (byte-level BPE, END_OF_TEXT as end token)."""
    return keras_hub.models.GPT2Tokenizer(vocabulary=vocabulary, merges=merges)
