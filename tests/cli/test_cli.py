"""The `tfllm` command end to end, in subprocesses, as a user runs it."""

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import toy_topics, write_csv

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TFLLM = os.path.join(os.path.dirname(sys.executable), "tfllm")
SMOKE = "--config=configs/bert_classifier.py:smoke"


def tfllm(*args, cwd=REPO):
    """Runs the installed console script; returns the CompletedProcess."""
    command = [TFLLM] if os.path.exists(TFLLM) else [sys.executable, "-m", "tfllm.cli.main"]
    return subprocess.run(command + list(args), cwd=cwd, capture_output=True, text=True,
                          timeout=600, check=False)


def error_line(result):
    lines = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


@pytest.mark.parametrize("flag,expected", [
    ("--config.train.lerning_rate=1",
     "--config.train.lerning_rate: no such config field (did you mean 'learning_rate'?)"),
    ("--config.train.epochs=many", "--config.train.epochs=many"),
    ("--config.train.learning_rate=-0.1",
     "--config.train.learning_rate: got -0.1, expected a positive number"),
    ("--config.data.train=missing.csv", "--config.data.train: data file not found: missing.csv"),
    ("--config=configs/nowhere.py", "--config: config file not found: configs/nowhere.py"),
])
def test_bad_config_is_one_line_and_exit_code_2(flag, expected, tmp_path):
    result = tfllm("train", SMOKE, flag, f"--workdir={tmp_path / 'run'}")
    assert result.returncode == 2
    assert expected in error_line(result)
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()  # nothing started


@pytest.mark.slow
def test_smoke_run_writes_the_work_directory_contract(tmp_path):
    workdir = tmp_path / "run"
    result = tfllm("train", SMOKE, f"--workdir={workdir}")
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
    # model.keras loads in a fresh process that imports only tfllm and keras.
    loads = subprocess.run(
        [sys.executable, "-c", "import sys, tfllm, keras; "
         "m = keras.saving.load_model(sys.argv[1]); print(m.count_params())",
         str(workdir / "model.keras")], capture_output=True, text=True, check=False)
    assert loads.returncode == 0 and int(loads.stdout.split()[-1]) > 0, loads.stderr[-3000:]
    # A finished run is never overwritten by accident.
    again = tfllm("train", SMOKE, f"--workdir={workdir}")
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

    evaluated = tfllm("evaluate", f"--workdir={workdir}", "--plot")
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

    test = write_csv(tmp_path / "test.csv", [("the goal of the match", "sport"),
                                             ("bread with cheese", "food")])
    on_file = tfllm("evaluate", f"--workdir={workdir}", f"--data={test}",
                    f"--output={tmp_path / 'test_eval.json'}")
    assert on_file.returncode == 0, on_file.stderr[-3000:]
    assert json.loads((tmp_path / "test_eval.json").read_text())["examples"] == 2

    predicted = tfllm("predict", f"--workdir={workdir}", "--text=the coach and the team",
                      "--text=soup recipe with spice")
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    rows = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert [row["label"] for row in rows] == ["sport", "food"]
    assert sum(rows[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)

    unlabelled = tmp_path / "unlabelled.csv"
    unlabelled.write_text("text\nthe goal of the match\nbread with cheese\n", encoding="utf-8")
    from_file = tfllm("predict", f"--workdir={workdir}", f"--input={unlabelled}", "--top_k=1")
    assert from_file.returncode == 0, from_file.stderr[-3000:]
    rows = [json.loads(line) for line in from_file.stdout.splitlines()]
    assert [row["text"] for row in rows] == ["the goal of the match", "bread with cheese"]
    assert all(len(row["probabilities"]) == 1 for row in rows)


def test_unknown_command_and_help():
    assert tfllm("fly").returncode == 2
    result = tfllm("--help")
    assert result.returncode == 0 and "train" in result.stdout and "predict" in result.stdout


def test_flagfile_overrides_reach_the_config(tmp_path):
    flagfile = tmp_path / "flags.txt"
    flagfile.write_text(f"{SMOKE}\n--config.train.learning_rate=-2.0\n", encoding="utf-8")
    result = tfllm("train", f"--flagfile={flagfile}", f"--workdir={tmp_path / 'run'}")
    assert result.returncode == 2
    assert "--config.train.learning_rate: got -2.0" in error_line(result)
