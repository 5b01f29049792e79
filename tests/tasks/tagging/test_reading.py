"""Tests of tfllm.tasks.tagging.reading: CoNLL and JSON Lines readers, bad sentences, tag vocabulary."""

import json

import pytest

from tfllm.tasks.tagging import reading as tagging
from tfllm.tasks.tagging.reading import TaggedSentence
from tfllm.errors import DataError

CONLL_2003 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""


def _write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return str(path)


def test_conll_2003_columns_docstart_and_sentence_origins(tmp_path):
    path = _write(tmp_path, "train.txt", CONLL_2003)
    assert tagging.read_tagged(path) == [
        TaggedSentence(("EU", "rejects", "German"), ("B-ORG", "O", "B-MISC"), f"{path}:3"),
        TaggedSentence(("Peter", "Blackburn"), ("B-PER", "I-PER"), f"{path}:7"),
    ]


def test_conll_bad_lines_mark_their_sentence_with_the_line(tmp_path):
    content = (b"a O\nb\n\nc B-\n\nd X-PER\n\ne I-LOC\n\nf B-GPE\n\ng S-PER\n\n"
               b"caf\xe9 O\n\nok B-PER\n")
    path = _write(tmp_path, "d.conll", content)
    sentences = tagging.read_conll(path, tag_set=["O", "B-PER", "I-PER", "I-LOC"])
    assert [(s.origin, s.problem) for s in sentences] == [
        (f"{path}:1", "line 2: expected a token and a tag separated by whitespace"),
        (f"{path}:4", "line 4: tag 'B-' is not a BIO tag (expected O, B-TYPE or I-TYPE)"),
        (f"{path}:6", "line 6: tag 'X-PER' is not a BIO tag (expected O, B-TYPE or I-TYPE)"),
        (f"{path}:8", ""),  # an I- tag may start an entity (IOB1 data)
        (f"{path}:10", "line 10: tag 'B-GPE' is not in the tag set "
                       "['B-PER', 'I-LOC', 'I-PER', 'O']"),
        (f"{path}:12", "line 12: tag 'S-PER' is not a BIO tag (expected O, B-TYPE or I-TYPE)"),
        (f"{path}:14", "line 14: undecodable bytes (not UTF-8)"),
        (f"{path}:16", ""),
    ]
    assert sentences[0].tokens == ("a", "b")


def test_bioes_scheme_accepts_e_and_s_tags(tmp_path):
    path = _write(tmp_path, "d.conll", "New B-LOC\nYork E-LOC\nis O\nbig S-X\n")
    [sentence] = tagging.read_conll(path, scheme="BIOES")
    assert sentence.problem == "" and sentence.tags == ("B-LOC", "E-LOC", "O", "S-X")
    with pytest.raises(ValueError, match="scheme must be one of"):
        tagging.read_conll(path, scheme="IOB3")


def test_jsonl_reads_chosen_keys_and_marks_bad_records(tmp_path):
    rows = [
        {"words": ["New", "York"], "ner": ["B-LOC", "I-LOC"]},
        {"words": ["a", "b"], "ner": ["O"]},
        {"words": ["a", " "], "ner": ["O", "O"]},
        {"words": ["Paris"], "ner": ["LOC"]},
        {"words": ["a"]},
        {"words": "a b", "ner": ["O", "O"]},
        {"words": [], "ner": []},
    ]
    lines = [json.dumps(row) for row in rows] + ["", "{bad", "[1]"]
    path = _write(tmp_path, "d.jsonl", "\n".join(lines) + "\n")
    sentences = tagging.read_tagged(path, tokens_key="words", tags_key="ner")
    assert sentences[0] == TaggedSentence(("New", "York"), ("B-LOC", "I-LOC"), f"{path}:1")
    assert [(s.origin, s.problem) for s in sentences[1:]] == [
        (f"{path}:2", "2 tokens in 'words' but 1 tags in 'ner'"),
        (f"{path}:3", "token 2 is empty"),
        (f"{path}:4", "token 1 ('Paris'): tag 'LOC' is not a BIO tag "
                      "(expected O, B-TYPE or I-TYPE)"),
        (f"{path}:5", "missing key 'ner'"),
        (f"{path}:6", "'words' must be a list of strings"),
        (f"{path}:7", "no tokens in 'words'"),
        (f"{path}:9", "invalid JSON: Expecting property name enclosed in double quotes "
                      "(column 2)"),
        (f"{path}:10", "invalid JSON: expected an object, found list"),
    ]


def test_whole_file_problems_raise(tmp_path):
    with pytest.raises(DataError, match="data file not found: .*missing.conll"):
        tagging.read_tagged(str(tmp_path / "missing.conll"))
    path = _write(tmp_path, "d.json", '[{"tokens": ["a"],\n "tags": ["O"]}]\n')
    with pytest.raises(DataError, match=r"d\.json:1: found a JSON array; expected JSON Lines"):
        tagging.read_tagged(path)


def test_tag_vocabulary_puts_o_first_and_skips_bad_sentences():
    sentences = [
        TaggedSentence(("a", "b"), ("I-PER", "B-PER"), "t:1"),
        TaggedSentence(("c",), ("B-LOC",), "t:4"),
        TaggedSentence(("d",), ("B-ZZZ",), "t:6", problem="line 6: bad"),
    ]
    assert tagging.tag_vocabulary(sentences) == ["O", "B-LOC", "B-PER", "I-PER"]


def test_check_tags_names_the_sentence_token_and_unknown_tag():
    vocabulary = ["O", "B-PER", "I-PER"]
    good = TaggedSentence(("Ann",), ("B-PER",), "val.conll:1")
    tagging.check_tags([good], vocabulary)
    bad = [TaggedSentence(("in", "Rome"), ("O", "B-LOC"), "val.conll:3"),
           TaggedSentence(("Oslo",), ("B-LOC",), "val.conll:6")]
    with pytest.raises(DataError, match=r"^val\.conll:3: token 2 \('Rome'\) has tag 'B-LOC', "
                       r"which the training data does not have; expected one of "
                       r"\['O', 'B-PER', 'I-PER'\]; 1 more sentences"):
        tagging.check_tags([good] + bad, vocabulary)
