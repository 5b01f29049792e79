"""tf.data assembly for language models: records -> cleaned, tokenized, packed blocks.

Tokenization runs in the graph (keras-hub's BytePairTokenizer, batched); the
token stream is then packed in memory (see `tfllm.data.packing`), so epochs
only shuffle and batch. A prompt is written through `data.prompt_template` and tokenized
apart from its response, exactly as generation will tokenize it. `data.packing`
picks the model features: 'stream' feeds token_ids and padding_mask (every
token sees the whole block before it), 'documents' adds segment_ids and
positions so each text attends only to itself.
"""

import numpy as np
import tensorflow as tf

from tfllm.data import cleaning
from tfllm.data import stream
from tfllm.data.packing import pack

TOKENIZE_BATCH = 1024
PROMPT_FIELD = "{prompt}"
# The features each `data.packing` gives the model (the rest of a block is targets and weights).
# 'documents' needs a model that reads them (`tfllm.models.document_mask.with_document_mask`):
# keras-hub's own causal LMs take two named inputs and, given four, misread them with a warning.
FEATURES = {"stream": ("token_ids", "padding_mask"),
            "documents": ("token_ids", "padding_mask", "segment_ids", "positions")}


def packing_of(data_config):
    """The run's `data.packing`; 'stream' for a config.json written before the field was."""
    return data_config.get("packing", "stream")


def format_prompt(template, prompt):
    """Writes `prompt` into `template` (at its '{prompt}'; other braces are literal)."""
    return template.replace(PROMPT_FIELD, prompt)


def tokenize_fn(tokenizer, cleaning_config):
    """Returns a function: batch of raw strings -> ragged token ids (cleaned, then tokenized)."""
    clean = cleaning.clean_fn(cleaning_config)

    def tokenize(texts):
        return tokenizer(clean(texts))

    return tokenize


def tokenize_texts(texts, tokenize):
    """Tokenizes a list of strings through tf.data in batches; returns a list of id arrays."""
    if not texts:
        return []
    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string))
    dataset = dataset.batch(TOKENIZE_BATCH).map(
        tokenize, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ids = []
    for batch in dataset:
        ids.extend(np.asarray(row, np.int32) for row in batch.numpy())
    return ids


def token_stream(records, tokenize, end_id, pairs, prompt_template):
    """Returns (ids, weights, starts): every record's tokens after an end-of-text token, in
    order.

    The stream starts with end-of-text, and each document (or prompt +
    response) is followed by one, so the model learns where texts begin and
    end. Weights are 0 on prompt tokens (and the leading end-of-text) and 1 on
    everything the loss should cover. `starts` is True on each end-of-text that
    a record follows: where its document begins (`packing.pack`).
    """
    if pairs:
        prompts = tokenize_texts([format_prompt(prompt_template, r.text) for r in records],
                                 tokenize)
        bodies = tokenize_texts([r.text_pair for r in records], tokenize)
    else:
        prompts = [np.zeros(0, np.int32)] * len(records)
        bodies = tokenize_texts([r.text for r in records], tokenize)
    ids, weights = [np.array([end_id], np.int32)], [np.zeros(1, np.float32)]
    starts = [np.ones(1, bool)]
    for prompt, body in zip(prompts, bodies):
        ids += [prompt, body, np.array([end_id], np.int32)]
        weights += [np.zeros(len(prompt), np.float32), np.ones(len(body) + 1, np.float32)]
        starts += [np.zeros(len(prompt) + len(body), bool), np.ones(1, bool)]
    return np.concatenate(ids), np.concatenate(weights), np.concatenate(starts)


def lm_dataset(blocks, batch_size, training, shuffle_buffer=10_000, seed=0, start_batch=0,
               packing="stream"):
    """Returns batches of (features, targets, weights) from packed blocks, the features
    `FEATURES[packing]` names: the endless `stream.training_stream` from `start_batch`
    when `training`, else one pass in order."""
    features = {name: blocks[name] for name in FEATURES[packing]}
    dataset = tf.data.Dataset.from_tensor_slices((features, blocks["targets"], blocks["weights"]))
    if training:
        return stream.training_stream(dataset, batch_size, shuffle_buffer, seed,
                                      start_batch).prefetch(tf.data.AUTOTUNE)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def packed_blocks(records, tokenize, end_id, pairs, prompt_template, block_length,
                  packing="stream"):
    """Tokenizes and packs records; returns (blocks, token_stream_ids). With `packing`
    'documents' the blocks' segment_ids and positions follow the records; with 'stream'
    each block is one document."""
    ids, weights, starts = token_stream(records, tokenize, end_id, pairs, prompt_template)
    starts = starts if packing == "documents" else None
    return pack(ids, weights, block_length, pad_id=end_id, starts=starts), ids
