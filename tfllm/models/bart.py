"""BART encoder-decoder from a named size, on keras-hub's Bart classes, with its BPE tokenizer.

The model is keras-hub's BartSeq2SeqLM without a preprocessor: tfllm's own
pipeline tokenizes and packs, as for GPT. Input and output embeddings are
tied (one ReversibleEmbedding shared by encoder, decoder and output layer).

Sequences are packed as keras-hub's BartSeq2SeqLMPreprocessor packs them:
- encoder: `<s> source </s>`, then `<pad>`;
- decoder input: `</s> <s> target`, predicting `<s> target </s>` (loss on the target and
  its `</s>`, not on the forced `<s>`); generation starts from `</s> <s>`.
"""

import keras_hub

from tfllm.data import bpe
from tfllm.models.sizes import gpt_dims

# BART's special tokens in the order (and so with the ids) of the original vocabulary.
START, PAD, END, UNKNOWN, MASK = "<s>", "<pad>", "</s>", "<unk>", "<mask>"
SPECIAL_TOKENS = (START, PAD, END, UNKNOWN, MASK)
DECODER_START = 2  # forced decoder tokens: </s> <s>


def learn_tokenizer_files(texts, vocabulary_size, min_frequency):
    """(vocabulary, merges) of a byte-level BPE learned from `texts`, BART's specials first."""
    return bpe.learn(texts, vocabulary_size, min_frequency, special_tokens=SPECIAL_TOKENS)


def load_tokenizer_files(directory, flag="--config.tokenizer.vocabulary"):
    """(vocabulary, merges) from vocab.json + merges.txt that hold BART's special tokens."""
    return bpe.load(directory, flag=flag, special_tokens=(START, PAD, END))


def build_tokenizer(vocabulary, merges):
    """keras-hub's BartTokenizer (byte-level BPE; start, end and pad token ids set)."""
    return keras_hub.models.BartTokenizer(vocabulary=vocabulary, merges=merges)


def context_length(model_config, data_config):
    """Positions the backbone needs: a packed source, or `</s> <s>` + the longest target."""
    return (model_config.backbone.max_sequence_length
            or max(data_config.max_source_length, data_config.max_target_length + DECODER_START))


def backbone_kwargs(model_config, vocabulary_size):
    """The BartBackbone constructor arguments a (resolved) config describes."""
    return {
        "vocabulary_size": vocabulary_size,
        **gpt_dims(model_config.size, model_config.backbone),
        "dropout": model_config.backbone.dropout,
        "max_sequence_length": model_config.backbone.max_sequence_length,
    }


def build_seq2seq_lm(kwargs, dtype=None):
    """A randomly initialised BartSeq2SeqLM (logits over the vocabulary), no preprocessor."""
    backbone = keras_hub.models.BartBackbone(**kwargs, dtype=dtype)
    return keras_hub.models.BartSeq2SeqLM(backbone=backbone, preprocessor=None)
