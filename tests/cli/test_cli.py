"""The `tfllm` command end to end, in subprocesses, as a user runs it."""

import functools
import json
import subprocess
import sys

import pytest

from tests.helpers import (SMOKE, error_line, selected_params, side_by_side, tfllm, tfllm_all,
                           toy_topics, write_csv)


@pytest.fixture(scope="module")
def bad_config_runs(request, tmp_path_factory):
    """{flag: (CompletedProcess, workdir)}: `tfllm train SMOKE FLAG --workdir=WORKDIR` for the
    selected cases below, run side by side (`tfllm_all`)."""
    flags = selected_params(request, "test_bad_config_is_one_line_and_exit_code_2", "flag")
    workdirs = [tmp_path_factory.mktemp("bad_config") / "run" for _ in flags]
    results = tfllm_all(*[("train", SMOKE, flag, f"--workdir={workdir}")
                          for flag, workdir in zip(flags, workdirs)])
    return dict(zip(flags, zip(results, workdirs)))


@pytest.mark.parametrize("flag,expected", [
    ("--config.train.lerning_rate=1",
     "--config.train.lerning_rate: no such config field (did you mean 'learning_rate'?)"),
    ("--config.train.epochs=many", "--config.train.epochs=many"),
    ("--config.train.learning_rate=-0.1",
     "--config.train.learning_rate: got -0.1, expected a positive number"),
    ("--config.data.train=missing.csv", "--config.data.train: data file not found: missing.csv"),
    ("--config=configs/nowhere.py", "--config: config file not found: configs/nowhere.py"),
])
def test_bad_config_is_one_line_and_exit_code_2(flag, expected, bad_config_runs):
    result, workdir = bad_config_runs[flag]
    assert result.returncode == 2
    assert expected in error_line(result)
    assert "Traceback" not in result.stderr
    assert not workdir.exists()  # nothing started


@pytest.mark.slow
def test_smoke_run_writes_the_work_directory_contract(smoke_cli_run):
    workdir, result = smoke_cli_run  # `tfllm train SMOKE --workdir=...` (tests/conftest.py)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "validation accuracy" in result.stdout
    assert f"tfllm evaluate --workdir={workdir}" in result.stdout
    assert f"tfllm export --workdir={workdir} --export_dir=exports/" in result.stdout
    for name in ("config.json", "tokenizer/vocab.txt", "tokenizer/labels.txt", "model.keras",
                 "metrics.jsonl", "eval.json", "checkpoints/best.weights.h5"):
        assert (workdir / name).exists(), name
    assert any((workdir / "logs" / "train").iterdir())
    lines = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2]
    assert lines[-1]["step"] == 6
    assert lines[-1]["examples_per_sec"] > 0 and lines[-1]["tokens_per_sec"] > 0
    assert 100 < lines[-1]["rss_mb"] < 64 * 1024  # TensorFlow alone takes some hundreds of MiB
    resolved = json.loads((workdir / "config.json").read_text())
    assert resolved["model"]["backbone"]["hidden_dim"] == 16
    assert len((workdir / "tokenizer/labels.txt").read_text().splitlines()) == 21
    # model.keras loads in a fresh process after `import tfllm.keras_objects`; and a finished
    # run is never overwritten by accident (the two commands only read the run: side by side).
    loads, again = side_by_side(
        functools.partial(subprocess.run, [
            sys.executable, "-c", "import sys, tfllm.keras_objects, keras; "
            "m = keras.saving.load_model(sys.argv[1]); print(m.count_params())",
            str(workdir / "model.keras")], capture_output=True, text=True, check=False),
        functools.partial(tfllm, "train", SMOKE, f"--workdir={workdir}"))
    assert loads.returncode == 0 and int(loads.stdout.split()[-1]) > 0, loads.stderr[-3000:]
    assert again.returncode == 2 and "already holds a finished run" in error_line(again)


@pytest.mark.slow
def test_own_csv_with_string_labels_trains_evaluates_and_predicts(tmp_path):
    train = write_csv(tmp_path / "train.csv", toy_topics(60))
    workdir = tmp_path / "run"
    result = tfllm(
        "train", SMOKE, f"--config.data.train={train}", f"--workdir={workdir}",
        "--config.train.epochs=6", "--config.train.steps_per_epoch=0",
        "--config.train.learning_rate=0.01", "--config.data.batch_size=8",
        "--config.data.validation_fraction=0.2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (workdir / "tokenizer/labels.txt").read_text().split() == ["food", "sport"]

    # Four commands on the finished run, side by side: each writes only its own output.
    test = write_csv(tmp_path / "test.csv", [("the goal of the match", "sport"),
                                             ("bread with cheese", "food")])
    unlabelled = tmp_path / "unlabelled.csv"
    unlabelled.write_text("text\nthe goal of the match\nbread with cheese\n", encoding="utf-8")
    evaluated, on_file, predicted, from_file = tfllm_all(
        ("evaluate", f"--workdir={workdir}", "--plot"),
        ("evaluate", f"--workdir={workdir}", f"--data={test}",
         f"--output={tmp_path / 'test_eval.json'}"),
        ("predict", f"--workdir={workdir}", "--text=the coach and the team",
         "--text=soup recipe with spice"),
        ("predict", f"--workdir={workdir}", f"--input={unlabelled}", "--top_k=1"))

    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    report = json.loads((workdir / "eval.json").read_text())
    assert report["accuracy"] >= 0.9  # two topics with disjoint words
    assert len(report["confusion_matrix"]) == 2
    assert "micro-F1" in evaluated.stdout and "ECE" in evaluated.stdout
    assert 0 <= report["ece"] <= 1 and sum(b["count"] for b in report["calibration"]["bins"]) \
        == report["examples"]
    for chart in ("training.png", "confusion.png", "reliability.png"):
        png = (workdir / "plots" / chart).read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 5000, chart

    assert on_file.returncode == 0, on_file.stderr[-3000:]
    assert json.loads((tmp_path / "test_eval.json").read_text())["examples"] == 2

    assert predicted.returncode == 0, predicted.stderr[-3000:]
    rows = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert [row["label"] for row in rows] == ["sport", "food"]
    assert sum(rows[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)

    assert from_file.returncode == 0, from_file.stderr[-3000:]
    rows = [json.loads(line) for line in from_file.stdout.splitlines()]
    assert [row["text"] for row in rows] == ["the goal of the match", "bread with cheese"]
    assert all(len(row["probabilities"]) == 1 for row in rows)


def test_unknown_command_and_help():
    unknown, result = tfllm_all(("fly",), ("--help",))
    assert unknown.returncode == 2
    assert result.returncode == 0 and "train" in result.stdout and "predict" in result.stdout


def test_flagfile_overrides_reach_the_config(tmp_path):
    flagfile = tmp_path / "flags.txt"
    flagfile.write_text(f"{SMOKE}\n--config.train.learning_rate=-2.0\n", encoding="utf-8")
    result = tfllm("train", f"--flagfile={flagfile}", f"--workdir={tmp_path / 'run'}")
    assert result.returncode == 2
    assert "--config.train.learning_rate: got -2.0" in error_line(result)


BOUNDARY = """
import sys
from tfllm.cli import app
from tfllm.errors import DataError

def main(argv):
    if sys.argv[1] == "bad-input":
        raise DataError("data.csv:3: expected 2 columns")
    return 1 / 0

app.run(main, ["tfllm demo"])
"""


def test_the_error_boundary_tells_bad_input_from_a_bug():
    def run(kind):
        return subprocess.run([sys.executable, "-c", BOUNDARY, kind], capture_output=True,
                              text=True, timeout=120, check=False)
    bad_input, bug = side_by_side(lambda: run("bad-input"), lambda: run("bug"))
    assert bad_input.returncode == 2 and "Traceback" not in bad_input.stderr
    assert error_line(bad_input) == "tfllm demo: error: data.csv:3: expected 2 columns"
    assert bug.returncode == 1
    assert "Traceback" in bug.stderr and "ZeroDivisionError" in bug.stderr
    assert bug.stderr.rstrip().endswith(
        "tfllm demo: internal error: this is a bug in tfllm, not a problem with your input; "
        "please report it with the traceback above")
