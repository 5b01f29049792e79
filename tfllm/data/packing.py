"""Packing: one long token stream cut into fixed blocks, so no step computes on padding.

The stream is every document (or prompt + response) with an end-of-text token
between them. Blocks overlap by one token: block i holds stream[i*L : i*L + L]
as inputs and stream[i*L + 1 : i*L + L + 1] as targets, so every token is an
input once and a target once, and a document longer than a block simply
continues in the next one. Only the last block is padded (with zero weight).

Each block also says which document every input token belongs to
(`segment_ids`: 1, 2, ... in order within the block, 0 on padding) and where
in that document it sits (`positions`, from 0). A model given them attends
only within a document ('documents' packing, `tfllm.models.document_mask`),
so a packed document's logits are the ones it gets alone. A document begins
at its leading end-of-text token (the one the previous document ended with):
alone, it reads [end, tokens...] and predicts [tokens..., end]. The piece of a
document continued from the previous block is a document of its own in the
new block, at positions from 0: its earlier tokens are out of its sight there,
and rotary positions (Llama), being relative, could not tell it otherwise.
"""

import numpy as np


def pack(token_ids, weights, block_length, pad_id=0, starts=None):
    """Cuts a token stream into (inputs, targets, target weights, padding mask) blocks.

    Args:
        token_ids: 1-D int array, the whole stream.
        weights: 1-D float array, same length: the loss weight of each token
            when it is a target (0 on prompt tokens, 1 elsewhere).
        block_length: tokens per block (the training context length).
        pad_id: id written into the padded tail of the last block.
        starts: 1-D bool array, same length, True where a document begins (at
            its leading end-of-text token); None = the stream is one document.

    Returns:
        dict of int32/float32 arrays of shape [blocks, block_length]:
        token_ids, targets, weights (0 on prompt and padding), padding_mask,
        segment_ids (the input token's document within the block: 1, 2, ...;
        0 on padding) and positions (the token's place in that document).
    """
    token_ids = np.asarray(token_ids, np.int32)
    weights = np.asarray(weights, np.float32)
    starts = np.zeros(token_ids.shape, bool) if starts is None else np.asarray(starts, bool)
    if not token_ids.shape == weights.shape == starts.shape or token_ids.ndim != 1:
        raise ValueError(f"token_ids {token_ids.shape}, weights {weights.shape} and starts "
                         f"{starts.shape} must be 1-D of equal length")
    targets_count = max(len(token_ids) - 1, 0)
    blocks = -(-targets_count // block_length)  # ceil
    size = blocks * block_length
    inputs = np.full(size, pad_id, np.int32)
    targets = np.full(size, pad_id, np.int32)
    target_weights = np.zeros(size, np.float32)
    mask = np.zeros(size, bool)
    inputs[:targets_count] = token_ids[:-1] if targets_count else []
    targets[:targets_count] = token_ids[1:]
    target_weights[:targets_count] = weights[1:]
    mask[:targets_count] = True
    shape = (blocks, block_length)
    segment_ids, positions = _documents(starts[:targets_count], size, block_length)
    return {
        "token_ids": inputs.reshape(shape),
        "targets": targets.reshape(shape),
        "weights": target_weights.reshape(shape),
        "padding_mask": mask.reshape(shape),
        "segment_ids": np.where(mask, segment_ids, 0).reshape(shape),
        "positions": np.where(mask, positions, 0).reshape(shape),
    }


def _documents(input_starts, size, block_length):
    """(segment ids, positions), flat: a document begins where `input_starts` says and at
    every block's first token."""
    begins = np.zeros(size, bool)
    begins[:len(input_starts)] = input_starts
    begins[::block_length] = True
    index = np.arange(size)
    positions = index - np.maximum.accumulate(np.where(begins, index, 0))
    segment_ids = np.cumsum(begins.reshape(-1, block_length), axis=1).reshape(-1)
    return segment_ids.astype(np.int32), positions.astype(np.int32)
