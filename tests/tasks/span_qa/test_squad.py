"""Tests of tfllm.tasks.span_qa.squad: both layouts, origins, and every kind of bad question."""

import json

import pytest

from tfllm.data import examples
from tfllm.tasks.span_qa import squad
from tfllm.tasks.span_qa.squad import QaExample
from tfllm.errors import DataError

CONTEXT = "Die Straße führt nach Zürich. It opened in 1871."


def _qa(qid, question, answers=(), **extra):
    return {"id": qid, "question": question,
            "answers": [{"text": t, "answer_start": s} for t, s in answers], **extra}


def _squad(tmp_path, paragraphs, name="d.json", indent=None):
    path = tmp_path / name
    root = {"version": "v2.0", "data": [{"title": "T", "paragraphs": paragraphs}]}
    path.write_text(json.dumps(root, ensure_ascii=False, indent=indent), encoding="utf-8")
    return str(path)


def _lines(tmp_path, rows, name="d.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)
                              for r in rows) + "\n", encoding="utf-8")
    return str(path)


def test_squad_v2_json_reads_answers_impossible_and_json_paths(tmp_path):
    qas = [_qa("q1", "Where?", [("Zürich", 22)], is_impossible=False),
           _qa("q2", "Who?", is_impossible=True, plausible_answers=[])]
    path = _squad(tmp_path, [{"context": "x", "qas": []}, {"context": CONTEXT, "qas": qas}])
    assert squad.read_squad(path) == [
        QaExample("q1", "Where?", CONTEXT, (("Zürich", 22),), False,
                  f"{path}:data[0].paragraphs[1].qas[0]"),
        QaExample("q2", "Who?", CONTEXT, (), True, f"{path}:data[0].paragraphs[1].qas[1]"),
    ]


def test_squad_v1_pretty_printed_json_with_several_answers(tmp_path):
    qa = _qa("q1", "When?", [("1871", 43), ("in 1871", 40)])
    path = _squad(tmp_path, [{"context": CONTEXT, "qas": [qa]}], indent=2)
    [example] = squad.read_squad(path)
    assert example.answers == (("1871", 43), ("in 1871", 40)) and not example.problem
    assert not example.is_impossible


def test_json_lines_in_hugging_face_layout(tmp_path):
    rows = [{"id": "a", "title": "T", "context": CONTEXT, "question": "Where?",
             "answers": {"text": ["Zürich"], "answer_start": [22]}},
            {"id": "b", "context": CONTEXT, "question": "Who?",
             "answers": {"text": [], "answer_start": []}}]
    # Hugging Face's to_json writes JSON Lines under a .json name: content decides.
    path = _lines(tmp_path, [rows[0], "", rows[1]], name="hf.json")
    assert squad.read_squad(path) == [
        QaExample("a", "Where?", CONTEXT, (("Zürich", 22),), False, f"{path}:1"),
        QaExample("b", "Who?", CONTEXT, (), True, f"{path}:3"),
    ]


def test_misaligned_answer_is_bad_and_the_report_names_file_and_record(tmp_path):
    # 23 counts UTF-8 bytes ("ß", "ü" take two), not characters: a common converter bug.
    qas = [_qa("ok", "When?", [("1871", 43)]), _qa("bad", "Where?", [("Zürich", 24)])]
    path = _squad(tmp_path, [{"context": CONTEXT, "qas": qas}])
    read = squad.read_squad(path)
    origin = f"{path}:data[0].paragraphs[0].qas[1]"
    assert read[1].origin == origin
    assert read[1].problem == ("answers[0]: text 'Zürich' is not at answer_start 24: the "
                               "context has 'rich. ' there; the text first occurs at 22")
    bad = [e for e in read if e.problem]
    with pytest.raises(DataError) as error:
        examples.check_bad_rows(bad, len(read), max_bad_fraction=0.1)
    assert f"{origin}: answers[0]: text 'Zürich' is not at answer_start 24" in str(error.value)


def test_misaligned_answer_in_json_lines_names_the_line(tmp_path):
    row = {"id": "a", "context": CONTEXT, "question": "Q?",
           "answers": {"text": ["Paris"], "answer_start": [0]}}
    path = _lines(tmp_path, [row])
    [example] = squad.read_squad(path)
    assert example.origin == f"{path}:1"
    assert example.problem == ("answers[0]: text 'Paris' is not at answer_start 0: the context "
                               "has 'Die S' there; it is not in the context")


def test_bad_questions_are_marked_not_dropped(tmp_path):
    qas = [_qa("q1", " ", [("1871", 43)]),
           _qa("q2", "When?"),
           _qa("q3", "When?", [("1871", 43)], is_impossible=True),
           _qa("q4", "When?", [("1871", "43")]),
           _qa("q5", "When?", [("1871", 43)]),
           _qa("q5", "Again?", [("1871", 43)]),
           "not an object"]
    path = _squad(tmp_path, [{"context": CONTEXT, "qas": qas}, {"context": CONTEXT}])
    problems = [e.problem for e in squad.read_squad(path)]
    assert problems == [
        "missing question (expected a non-empty string, found ' ')",
        "no answers (expected at least one, or is_impossible: true)",
        "is_impossible is true but answers are given",
        "answers[0]: answer_start must be a non-negative integer, found '43'",
        "",
        f"duplicate id 'q5' (first at {path}:data[0].paragraphs[0].qas[4])",
        "expected an object",
        "expected an object with 'context' and a 'qas' list",
    ]


def test_bad_json_lines_and_undecodable_bytes(tmp_path):
    good = '{"id": "a", "context": "au lait", "question": "Q?", "answers": ' \
           '{"text": ["au"], "answer_start": [0]}}'
    undecodable = good.replace('"a"', '"b"').encode().replace(b"Q?", b"Q\xe9?")  # Latin-1
    path = tmp_path / "d.jsonl"
    path.write_bytes(b"\n".join([good.encode(), b"{broken", undecodable, b"[1]"]))
    read = squad.read_squad(str(path))
    assert [(e.origin.rsplit(":", 1)[1], e.problem) for e in read] == [
        ("1", ""),
        ("2", "invalid JSON: Expecting property name enclosed in double quotes (column 2)"),
        ("3", "undecodable bytes (not UTF-8)"),
        ("4", "expected an object, found list"),
    ]
    assert read[2].question == "Q\ufffd?"


def test_unusable_files_raise(tmp_path):
    with pytest.raises(DataError, match="QA data file not found"):
        squad.read_squad(tmp_path / "none.json")
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(DataError, match=f"{path}: no 'data' list; expected SQuAD JSON"):
        squad.read_squad(path)
    path.write_text('{"data": [\n  {"paragraphs": [}\n]}')
    with pytest.raises(DataError, match=f"{path}:2: invalid JSON"):
        squad.read_squad(path)
