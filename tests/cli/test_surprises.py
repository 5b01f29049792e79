"""No silent surprises (issue 23): a data file with its own column names is evaluated into
a report of its own; texts cut to the sequence length are counted aloud; several --text
flags explain several texts; the slow commands say what they are doing, on stderr.

The flags a run's task does not use, ranges, and unwritable outputs are in the flag sweep
(test_flag_sweep.py). The notes of the tasks' predict hooks are checked here on stand-in
predictors (the real tokenizers, no model); the commands on the shared `topics_run`.
"""

import json
import os
import types

import ml_collections
import numpy as np
import pytest

from tests import helpers
from tests.models.test_gguf import CONFIG, hf_llama_weights, write_gguf
from tfllm.configs import bert_classifier
from tfllm.tasks import base

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "goal", "team", "soup", "the", "?"]


def data_config(**fields):
    data = bert_classifier.get_config().data.copy_and_resolve_references()
    with data.unlocked():
        for key, value in fields.items():
            data[key] = value
    return ml_collections.ConfigDict({"data": data})


def stderr_lines(capsys):
    return [line for line in capsys.readouterr().err.splitlines() if line]


def test_cut_note_counts_and_names_the_field():
    assert base.cut_note(0, 5, 128) is None
    assert base.cut_note(3, 1043, 128) == ("3 of 1,043 texts were cut to 128 tokens "
                                           "(data.max_seq_length)")
    assert base.cut_note(1, 2, 16, what="questions", field="data.max_query_length") == (
        "1 of 2 questions was cut to 16 tokens (data.max_query_length)")


def test_classifier_predict_says_how_many_texts_were_cut(capsys):
    from tfllm.data import tokenizer as tokenizer_lib  # pylint: disable=import-outside-toplevel
    from tfllm.tasks.classification import task  # pylint: disable=import-outside-toplevel

    predictor = types.SimpleNamespace(
        config=data_config(max_seq_length=6),
        preprocessor=types.SimpleNamespace(tokenizer=tokenizer_lib.build_tokenizer(VOCABULARY)),
        predict=lambda texts, pairs: [{"label": "a", "score": 1.0, "probabilities": {"a": 1.0}}
                                      for _ in texts])
    texts = ["the goal", "goal goal goal goal", "the team ? soup goal"]  # 2, 4 and 5 pieces
    request = base.PredictRequest(texts=texts, top_k=1)
    assert len(list(task.TASK.predict_records(predictor, request))) == 3
    assert stderr_lines(capsys) == ["1 of 3 texts was cut to 6 tokens (data.max_seq_length)"]
    # A pair shares the room: 2 + 2 pieces fit 6 - 3 = 3 positions no more.
    assert task.count_cut(predictor, ["the goal", "goal"], ["soup team", "team"]) == 1
    list(task.TASK.predict_records(predictor, base.PredictRequest(texts=["goal"])))
    assert stderr_lines(capsys) == []  # nothing cut, nothing said


def test_tagger_predict_says_how_many_texts_lose_words(capsys):
    # pylint: disable=import-outside-toplevel
    from tfllm.tasks.tagging import alignment, features, task

    config = data_config(max_seq_length=5)
    tagger = types.SimpleNamespace(
        config=config, aligner=alignment.TagAligner(VOCABULARY, 5),
        clean=features.word_cleaner(config.data.cleaning),
        predict=lambda texts: [[] for _ in texts])
    request = base.PredictRequest(texts=["the goal", "the goal team soup"])
    assert [r["entities"] for r in task.TASK.predict_records(tagger, request)] == [[], []]
    assert stderr_lines(capsys) == ["1 of 2 texts was cut to 5 tokens (data.max_seq_length); "
                                    "their last words are not tagged"]


def test_qa_predict_says_how_many_questions_were_cut(capsys):
    # pylint: disable=import-outside-toplevel
    from tfllm.data import tokenizer as tokenizer_lib
    from tfllm.tasks.span_qa import task

    qa = types.SimpleNamespace(
        config=data_config(max_query_length=3), tokenizer=tokenizer_lib.build_tokenizer(VOCABULARY),
        predict=lambda questions, contexts: [{"answer": "", "score": 0.0, "start": -1, "end": -1}
                                             for _ in questions])
    request = base.PredictRequest(questions=["the goal ?", "the goal team ?"], contexts=["x"])
    assert len(list(task.TASK.predict_records(qa, request))) == 2
    assert stderr_lines(capsys) == ["1 of 2 questions was cut to 3 tokens "
                                    "(data.max_query_length)"]


def test_seq2seq_predict_says_how_many_sources_were_cut(capsys):
    from tfllm.tasks.seq2seq import task  # pylint: disable=import-outside-toplevel

    translator = types.SimpleNamespace(
        config=data_config(max_source_length=6), context_length=64,
        tokenize=lambda texts: [np.zeros(len(t.split()), np.int32) for t in texts],
        generate=lambda texts: ["out"] * len(texts))
    request = base.PredictRequest(texts=["a b c d", "a b c d e", "a"])
    assert len(list(task.TASK.predict_records(translator, request))) == 3
    assert stderr_lines(capsys) == ["1 of 3 sources was cut to 6 tokens "
                                    "(data.max_source_length)"]


def test_data_fields_override_the_runs_for_the_file_read():
    predictor = types.SimpleNamespace(config=data_config())
    base.Task().with_data_fields(predictor, {"text_column": "review", "label_column": "stars"})
    assert (predictor.config.data.text_column, predictor.config.data.label_column) == (
        "review", "stars")


@pytest.fixture(scope="module")
def commands(topics_run, tmp_path_factory):
    """{name: (CompletedProcess, paths)}: the slow commands on the shared topics run (a copy,
    where the command writes into its work directory), side by side."""
    _, workdir = topics_run
    tmp = tmp_path_factory.mktemp("surprises")
    copy = helpers.copy_run(workdir, tmp / "copy")
    reviews = helpers.write_csv(tmp / "reviews.csv", [
        ("the goal of the match", "sport"), ("bread with cheese", "food"),
        (" ".join(["the coach and the team"] * 12), "sport")], header=("review", "sentiment"))
    probe = helpers.write_csv(tmp / "probe.csv", [("he scored a goal", "sport"),
                                                  ("she made soup", "food")])
    gguf = write_gguf(tmp / "toy.gguf", hf_llama_weights(CONFIG), CONFIG)
    paths = {"copy": copy, "heat": str(tmp / "heat.html"), "export": str(tmp / "export"),
             "bias": str(tmp / "bias.json"), "imported": str(tmp / "imported")}
    with open(os.path.join(copy, "eval.json"), "rb") as f:
        paths["eval_json"] = f.read()
    names = ["evaluate", "columns", "predict", "explain", "export", "probe-bias", "import"]
    results = helpers.tfllm_all(
        ("evaluate", f"--workdir={copy}", f"--data={reviews}", "--text_column=review",
         "--label_column=sentiment"),
        ("evaluate", f"--workdir={copy}", f"--data={reviews}"),  # the run's column names
        ("predict", f"--workdir={workdir}", "--text=a goal",
         "--text=" + " ".join(["the team scored a goal"] * 10)),
        ("explain", f"--workdir={workdir}", "--text=a goal", "--text=some soup",
         "--text=the team", "--steps=4", f"--output={paths['heat']}"),
        ("export", f"--workdir={workdir}", f"--export_dir={paths['export']}"),
        ("probe-bias", f"--workdir={workdir}", f"--data={probe}", f"--output={paths['bias']}"),
        ("import", f"--config.model.init_from={gguf}", f"--workdir={paths['imported']}"))
    return dict(zip(names, results)), paths


def succeeded(results, name):
    """The CompletedProcess of command `name`, which must have exited 0."""
    result = results[name]
    assert result.returncode == 0, (name, result.stderr[-3000:])
    return result


@pytest.mark.slow
def test_evaluate_reads_other_column_names_into_a_report_of_its_own(commands):
    results, paths = commands
    report_path = os.path.join(paths["copy"], "eval_reviews.json")
    with open(report_path, encoding="utf-8") as f:
        report = json.load(f)
    assert report["examples"] == 3 and report["split"].endswith("reviews.csv")
    assert f"report: {report_path}" in succeeded(results, "evaluate").stdout
    with open(os.path.join(paths["copy"], "eval.json"), "rb") as f:
        assert f.read() == paths["eval_json"]  # the run's own validation report is kept
    assert "1 of 3 texts was cut to 24 tokens (data.max_seq_length)" in (
        results["evaluate"].stderr)


@pytest.mark.slow
def test_a_missing_column_names_the_flag_evaluate_takes(commands):
    results, _ = commands
    result = results["columns"]
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line = helpers.error_line(result)
    assert "no column 'text' (selected by --text_column)" in line, line
    assert "--config.data" not in line


@pytest.mark.slow
def test_predict_says_how_many_texts_were_cut(commands):
    results, _ = commands
    assert succeeded(results, "predict").stderr.splitlines() == [
        "1 of 2 texts was cut to 24 tokens (data.max_seq_length)"]
    assert len(results["predict"].stdout.splitlines()) == 2


@pytest.mark.slow
def test_several_texts_are_all_explained(commands):
    results, paths = commands
    stdout = succeeded(results, "explain").stdout
    stem = paths["heat"][:-len(".html")]
    assert [line for line in stdout.splitlines() if line.startswith("heat map: ")] == [
        f"heat map: {stem}-{index}.html" for index in (1, 2, 3)]
    assert stdout.count("completeness gap") == 3
    for index, word in ((1, "goal"), (2, "soup"), (3, "team")):
        with open(f"{stem}-{index}.html", encoding="utf-8") as f:
            assert f">{word}</span>" in f.read()


@pytest.mark.slow
@pytest.mark.parametrize("name, stages", [
    ("evaluate", ["loading the run in", "evaluating on", "evaluating 3 texts"]),
    ("explain", ["loading the run in", "explaining text 1 of 3", "explaining text 3 of 3"]),
    ("export", ["loading the run in", "reading", "back to describe it"]),
    ("probe-bias", ["loading the run in", "reading the texts of", "probing 2 texts with"]),
    ("import", ["importing into", "reading", "building the llama decoder", "writing"]),
])
def test_slow_commands_print_a_progress_line_per_stage_on_stderr(commands, name, stages):
    results, _ = commands
    stderr = succeeded(results, name).stderr
    positions = [stderr.find(stage) for stage in stages]
    assert all(p >= 0 for p in positions), (stages, stderr[-2000:])
    assert positions == sorted(positions), stderr[-2000:]  # in the order of the work
    assert not any(stage in results[name].stdout for stage in stages[:1])  # not on stdout
