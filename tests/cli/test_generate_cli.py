"""`tfllm train` on the GPT config, then `tfllm generate` and `tfllm evaluate`, in subprocesses."""

import json
import os

import pytest

from tests.helpers import copy_run, error_line, selected_params, tfllm, tfllm_all


@pytest.fixture(scope="module")
def workdir(gpt_run, tmp_path_factory):
    """A copy (`tfllm evaluate` writes eval.json into it) of the shared `tfllm train`
    `:smoke` GPT run (tests/conftest.py)."""
    path, result = gpt_run
    assert "validation perplexity" in result.stdout and "unigram baseline" in result.stdout
    return copy_run(path, tmp_path_factory.mktemp("cli") / "gpt")


def test_generate_prints_one_json_line_per_prompt(workdir):
    result = tfllm("generate", f"--workdir={workdir}", "--prompt=What is AI?", "--prompt=Hello",
                   "--max_new_tokens=4", "--sampler=top_p", "--top_p=0.8", "--seed=5")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["prompt"] for line in lines] == ["What is AI?", "Hello"]
    assert lines[0]["generated_text"].startswith("What is AI?\n")


def test_draft_tokens_flag_gives_the_greedy_text(workdir):
    plain, drafted = tfllm_all(
        ("generate", f"--workdir={workdir}", "--prompt=What is AI?", "--max_new_tokens=8"),
        ("generate", f"--workdir={workdir}", "--prompt=What is AI?", "--max_new_tokens=8",
         "--draft_tokens=3"))
    assert plain.returncode == 0 and drafted.returncode == 0, drafted.stderr[-3000:]
    assert drafted.stdout == plain.stdout


@pytest.fixture(scope="module")
def bad_flag_runs(request, workdir):
    """{flag: CompletedProcess}: `tfllm generate --prompt=... FLAG` for the selected cases
    below, run side by side (`tfllm_all`)."""
    flags = selected_params(request, "test_bad_generation_flags_are_one_line_errors", "flag")
    results = tfllm_all(*[("generate", f"--workdir={workdir}", "--prompt=What is AI?", flag)
                          for flag in flags])
    return dict(zip(flags, results))


@pytest.mark.parametrize("flag, expected", [
    ("--temperature=0", "temperature: got 0.0, expected > 0"),
    ("--sampler=nucleus", "sampler: unknown sampler 'nucleus'"),
    ("--max_length=2", "max_length: got 2, but the longest prompt has"),
])
def test_bad_generation_flags_are_one_line_errors(bad_flag_runs, flag, expected):
    result = bad_flag_runs[flag]
    assert result.returncode == 2
    assert expected in error_line(result)


def test_evaluate_reports_the_perplexity_training_reported(workdir):
    with open(os.path.join(workdir, "eval.json"), encoding="utf-8") as f:
        trained = json.load(f)
    result = tfllm("evaluate", f"--workdir={workdir}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "validation: perplexity" in result.stdout
    with open(os.path.join(workdir, "eval.json"), encoding="utf-8") as f:
        again = json.load(f)
    # The same blocks, scored as training scored them (documents packing, masked).
    assert again["tokens"] == trained["tokens"]
    assert again["perplexity"] == pytest.approx(trained["perplexity"], rel=1e-4)


def test_evaluate_scores_greedy_completions_against_the_responses(workdir, tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"prompt": p, "response": r}) + "\n" for p, r in [
        ("What is AI?", "Artificial intelligence."), ("Hello", "Hi there."),
        ("Who are you?", "A small model.")]), encoding="utf-8")
    output = tmp_path / "eval.json"
    result = tfllm("evaluate", f"--workdir={workdir}", f"--data={pairs}", "--generate",
                   "--max_examples=2", f"--output={output}", "--plot",
                   f"--plot_dir={tmp_path / 'plots'}")
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.loads(output.read_text())["generation"]
    assert scores["examples"] == 2
    assert set(scores) == {"examples", "bleu", "rouge1", "rouge2", "rougeL", "exact_match"}
    assert all(0 <= scores[name] <= 1 for name in scores if name != "examples")
    assert "rougeL" in result.stdout
    assert (tmp_path / "plots" / "training.png").exists()


def test_generate_flag_needs_pairs(workdir, tmp_path):
    documents = tmp_path / "documents.txt"
    documents.write_text("Some text without prompts.\n\nAnother document here.\n",
                         encoding="utf-8")
    result = tfllm("evaluate", f"--workdir={workdir}", f"--data={documents}", "--generate")
    assert result.returncode == 2
    assert "has no prompt/response pairs" in error_line(result)
