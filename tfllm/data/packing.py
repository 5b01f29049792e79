"""Packing: one long token stream cut into fixed blocks, so no step computes on padding.

The stream is every document (or prompt + response) with an end-of-text token
between them. Blocks overlap by one token: block i holds stream[i*L : i*L + L]
as inputs and stream[i*L + 1 : i*L + L + 1] as targets, so every token is an
input once and a target once, and a document longer than a block simply
continues in the next one. Only the last block is padded (with zero weight).
"""

import numpy as np


def pack(token_ids, weights, block_length, pad_id=0):
    """Cuts a token stream into (inputs, targets, target weights, padding mask) blocks.

    Args:
        token_ids: 1-D int array, the whole stream.
        weights: 1-D float array, same length: the loss weight of each token
            when it is a target (0 on prompt tokens, 1 elsewhere).
        block_length: tokens per block (the training context length).
        pad_id: id written into the padded tail of the last block.

    Returns:
        dict of int32/float32 arrays of shape [blocks, block_length]:
        token_ids, targets, weights (0 on prompt and padding), padding_mask.
    """
    token_ids = np.asarray(token_ids, np.int32)
    weights = np.asarray(weights, np.float32)
    if token_ids.shape != weights.shape or token_ids.ndim != 1:
        raise ValueError(f"token_ids {token_ids.shape} and weights {weights.shape} "
                         "must be 1-D of equal length")
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
    return {
        "token_ids": inputs.reshape(shape),
        "targets": targets.reshape(shape),
        "weights": target_weights.reshape(shape),
        "padding_mask": mask.reshape(shape),
    }
