"""A toy byte-level BPE vocabulary whose tokens a test can write out: the 256 byte
characters, ChatML's special tokens, and whole words built by left-to-right merges."""

from keras_hub.src.tokenizers.byte_pair_tokenizer import bytes_to_unicode

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Byte-level spellings ("Ġ" is a space); each becomes one token.
WORDS = ["system", "user", "assistant", "Be", "Ġbrief", "Hi", "Hello", "Bye", "Ġyou", "ĠOk"]


def vocabulary_and_merges(words=WORDS):
    """(token -> id, merges): specials first (ids 0, 1, 2), then bytes, then merge results."""
    tokens, merges = list(SPECIALS) + bytes_to_unicode()[1], []
    for word in words:
        for end in range(2, len(word) + 1):
            if word[:end] not in tokens:
                tokens.append(word[:end])
                merges.append(f"{word[:end - 1]} {word[end - 1]}")
    return {token: index for index, token in enumerate(tokens)}, merges


def tokens_of(ids, vocabulary):
    """The token strings of `ids`."""
    names = {index: token for token, index in vocabulary.items()}
    return [names[int(i)] for i in ids]
