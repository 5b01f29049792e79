"""Packing: every token is an input once and a target once; only the last block is padded;
each block says which document every token is in, and where in it (from 0)."""

import numpy as np
import pytest

from tfllm import config as config_lib
from tfllm.configs import gpt_lm
from tfllm.data import bpe
from tfllm.data import lm_pipeline
from tfllm.data import packing
from tfllm.data.records import Record
from tfllm.errors import ConfigError


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


def test_documents_get_segment_ids_and_positions_from_0_in_each_block():
    # Three documents, each after its end-of-text (0): [0 5 6] [0 7 8 9] [0 10], then the end.
    stream = np.array([0, 5, 6, 0, 7, 8, 9, 0, 10, 0])
    starts = stream == 0
    blocks = packing.pack(stream, np.ones(10), 4, pad_id=0, starts=starts)
    assert blocks["token_ids"].tolist() == [[0, 5, 6, 0], [7, 8, 9, 0], [10, 0, 0, 0]]
    # Block 1 opens inside the second document: that piece is document 1 there, from 0.
    assert blocks["segment_ids"].tolist() == [[1, 1, 1, 2], [1, 1, 1, 2], [1, 0, 0, 0]]
    assert blocks["positions"].tolist() == [[0, 1, 2, 0], [0, 1, 2, 0], [0, 0, 0, 0]]


def test_without_starts_each_block_is_one_document():
    blocks = packing.pack(np.arange(1, 12), np.ones(11), 4)
    assert blocks["segment_ids"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 0, 0]]
    assert blocks["positions"].tolist() == [[0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 0, 0]]


def test_mismatched_starts_are_refused():
    with pytest.raises(ValueError, match="equal length"):
        packing.pack(np.arange(5), np.ones(5), 4, starts=np.ones(4, bool))


def test_the_pipeline_marks_each_record_as_a_document():
    tokenizer = bpe.build_tokenizer(*bpe.learn(["one two three four"] * 5, 300))
    tokenize = lm_pipeline.tokenize_fn(tokenizer, gpt_lm.get_config().data.cleaning)
    records = [Record(text="one two"), Record(text="three"), Record(text="four one")]
    end = tokenizer.end_token_id
    blocks, _ = lm_pipeline.packed_blocks(records, tokenize, end, False, "{prompt}\n", 64,
                                          packing="documents")
    row, segments = blocks["token_ids"][0], blocks["segment_ids"][0]
    for k, record in enumerate(records, start=1):  # alone, a record reads [end, its tokens]
        expected = [end] + np.asarray(tokenizer(record.text)).tolist()
        assert row[segments == k].tolist() == expected
        assert blocks["positions"][0][segments == k].tolist() == list(range(len(expected)))
    assert not (segments[blocks["padding_mask"][0]] == 0).any()
    stream_blocks, _ = lm_pipeline.packed_blocks(records, tokenize, end, False, "{prompt}\n", 64)
    assert stream_blocks["segment_ids"].max() == 1  # 'stream': one document per block
    features, _, _ = next(iter(lm_pipeline.lm_dataset(blocks, 1, False, packing="documents")))
    assert sorted(features) == ["padding_mask", "positions", "segment_ids", "token_ids"]
    features, _, _ = next(iter(lm_pipeline.lm_dataset(blocks, 1, False)))
    assert sorted(features) == ["padding_mask", "token_ids"]


def test_an_unknown_packing_is_refused():
    config = gpt_lm.get_config("smoke")
    config.data.packing = "bins"
    with pytest.raises(ConfigError, match="--config.data.packing: got 'bins', expected one of "
                       r"\('documents', 'stream'\)"):
        config_lib.validate(config)
