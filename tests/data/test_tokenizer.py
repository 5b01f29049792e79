import numpy as np
import pytest

from tfllm.data import tokenizer
from tfllm.errors import DataError


def test_learned_vocabulary_has_special_tokens_first_and_frequent_words():
    texts = ["the cat sat on the mat"] * 5 + ["a dog ran in the park"] * 5
    vocabulary = tokenizer.learn_vocabulary(texts, vocabulary_size=200, min_frequency=2)
    assert vocabulary[:5] == tokenizer.RESERVED_TOKENS
    assert {"the", "cat", "dog", "park"} <= set(vocabulary)


def test_min_frequency_controls_whole_words():
    texts = ["alpha beta", "alpha gamma", "alpha delta"]
    often = tokenizer.learn_vocabulary(texts, 100, min_frequency=3)
    rare = tokenizer.learn_vocabulary(texts, 100, min_frequency=1)
    assert "alpha" in often and "gamma" not in often
    assert "gamma" in rare


def test_vocabulary_file_round_trip_and_tokenization(tmp_path):
    vocabulary = tokenizer.RESERVED_TOKENS + ["hello", "world", "##s"]
    path = str(tmp_path / "vocab.txt")
    tokenizer.save_vocabulary(vocabulary, path)
    assert tokenizer.load_vocabulary(path) == vocabulary
    ids = np.asarray(tokenizer.build_tokenizer(path)("hello worlds")).tolist()
    assert ids == [5, 6, 7]


def test_vocabulary_without_special_tokens_is_rejected(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("hello\nworld\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"vocab\.txt: vocabulary lacks special tokens"):
        tokenizer.load_vocabulary(str(path))


def test_uncased_tokenizer_strips_accents_as_uncased_bert_was_pretrained():
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "cafe", "resume"]
    uncased = tokenizer.build_tokenizer(vocabulary, lowercase=True)
    assert np.asarray(uncased("Café RÉSUMÉ")).tolist() == [5, 6]
    cased = tokenizer.build_tokenizer(vocabulary)
    assert np.asarray(cased("Café resume")).tolist() == [1, 6]
