"""Packing: every token is an input once and a target once; only the last block is padded."""

import numpy as np
import pytest

from tfllm.data import packing


@pytest.mark.parametrize("length, block", [(100, 16), (97, 16), (17, 16), (2, 8), (33, 32)])
def test_every_token_is_an_input_once_and_a_target_once(length, block):
    stream = np.random.default_rng(length).integers(1, 500, size=length)
    weights = np.ones(length)
    blocks = packing.pack(stream, weights, block, pad_id=0)
    mask = blocks["padding_mask"]
    assert blocks["token_ids"].shape[1] == block
    assert blocks["token_ids"][mask].tolist() == stream[:-1].tolist()
    assert blocks["targets"][mask].tolist() == stream[1:].tolist()
    # Only the last block has padding, and padding carries no loss.
    assert mask[:-1].all()
    assert not blocks["weights"][~mask].any()


def test_a_document_longer_than_a_block_continues_in_the_next():
    stream = np.arange(1, 41)  # one 40-token document
    blocks = packing.pack(stream, np.ones(40), 16)
    assert blocks["token_ids"][1, 0] == blocks["targets"][0, -1] == 17


def test_weights_follow_their_target_token():
    stream = np.array([0, 5, 6, 7, 8, 9, 0])  # end, prompt 5 6, response 7 8 9, end
    weights = np.array([0, 0, 0, 1, 1, 1, 1], np.float32)
    blocks = packing.pack(stream, weights, 4)
    mask = blocks["padding_mask"]
    targets, target_weights = blocks["targets"][mask], blocks["weights"][mask]
    assert dict(zip(targets.tolist(), target_weights.tolist())) == {
        5: 0.0, 6: 0.0, 7: 1.0, 8: 1.0, 9: 1.0, 0: 1.0}


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="equal length"):
        packing.pack(np.arange(5), np.ones(4), 4)
