"""Every flag of every command, given a bad value (wrong type, out of range, empty, a missing
file, a directory where a file is expected and the reverse, a flag the run's task does not
use): exit code 2, one stderr line naming the flag, no traceback, nothing written (issue 21).

The flags come from absl (each command module imported in its own process), so a new flag
without a row here fails `test_every_flag_of_every_command_has_a_row`. Each case runs the
console script in a subprocess, all side by side, with a `tensorflow` package on its path
that refuses to import: every check must come before TensorFlow, in a fraction of a second
(the flags a run's task reads come from its light checks module). The runs are fakes: a
config.json of a packaged experiment and an empty model.keras, so a check that lets a case
through fails on the model instead of naming the flag.
"""

import json
import os
import re
import subprocess
import sys
import time

import pytest

from tests import helpers
from tfllm import config as config_lib
from tfllm.cli import main as cli_main
from tfllm.configs import bert_classifier, bert_qa, bert_tagger, gpt_lm, seq2seq

# Rows for flags no command module defines: absl's and app.py's, and an unknown one.
COMMON = ("flagfile", "verbose", "nope")
SMOKE = helpers.SMOKE

# (command, flag, arguments, kind of bad value). Placeholders: {file} an
# existing text file, {dir} an existing empty directory, {htmldir} a directory named .html,
# {csv} a small CSV, {keras} an (empty) file named .keras, {exports} an export directory
# holding version 1, and the fake
# runs {clf} (a single-text classifier), {pair} (a text-pair classifier), {lm}, {s2s},
# {qa}, {tagger}.
ROWS = [
    # -- train --------------------------------------------------------------------------
    ("train", "workdir", [SMOKE, "--workdir={file}"], "a file for a directory"),
    ("train", "workdir", [SMOKE, "--workdir={file}/run"], "under a file"),
    ("train", "workdir", [SMOKE, "--workdir=/sys/tfllm-sweep"], "unwritable"),
    ("train", "num_workers", [SMOKE, "--num_workers=0"], "out of range"),
    ("train", "num_workers", [SMOKE, "--num_workers=two"], "wrong type"),
    ("train", "config.train.epochs", [SMOKE, "--config.train.epochs=abc"], "wrong type"),
    ("train", "config.train.epochs", [SMOKE, "--config.train.epochs=0"], "out of range"),
    ("train", "config.data.train", [SMOKE, "--config.data.train=/nope.csv"], "missing file"),
    ("train", "config.data.train", [SMOKE, "--config.data.train={dir}"],
     "a directory for a file"),
    ("train", "config.train.epoch", [SMOKE, "--config.train.epoch=3"], "unknown field"),
    ("train", "config", ["--config=/nope.py"], "missing file"),
    ("train", "config", ["--config={dir}"], "a directory for a file"),
    ("train", "flagfile", ["--flagfile=/nope.flags"], "missing file"),
    ("train", "verbose", [SMOKE, "--verbose=maybe"], "wrong type"),
    ("train", "nope", [SMOKE, "--nope=1"], "unknown flag"),
    # -- import -------------------------------------------------------------------------
    ("import", "workdir", ["--config.model.init_from={file}", "--workdir={file}"],
     "a file for a directory"),
    ("import", "workdir", ["--config.model.init_from={file}", "--workdir=/sys/tfllm-sweep"],
     "unwritable"),
    ("import", "config.model.init_from", ["--workdir=run"], "empty"),
    ("import", "config.model.init_from", ["--config.model.init_from=/nope.gguf",
                                          "--workdir=run"], "missing file"),
    ("import", "config.train.epochs", ["--config.train.epochs=abc"], "wrong type"),
    ("import", "config", ["--config=/nope.py"], "missing file"),
    ("import", "config", ["--config=configs/bert_classifier.py",
                          "--config.model.init_from={file}", "--workdir=run"],
     "another task's experiment"),
    ("import", "flagfile", ["--flagfile=/nope.flags"], "missing file"),
    # -- evaluate -----------------------------------------------------------------------
    ("evaluate", "workdir", [], "missing"),
    ("evaluate", "workdir", ["--workdir=/nope/run"], "missing directory"),
    ("evaluate", "workdir", ["--workdir={file}"], "a file for a directory"),
    ("evaluate", "workdir", ["--workdir={dir}"], "not a finished run"),
    ("evaluate", "data", ["--workdir={clf}", "--data=/nope.csv"], "missing file"),
    ("evaluate", "data", ["--workdir={clf}", "--data={dir}"], "a directory for a file"),
    ("evaluate", "output", ["--workdir={clf}", "--output=/nope/eval.json"], "missing parent"),
    ("evaluate", "output", ["--workdir={clf}", "--output={dir}"], "a directory for a file"),
    ("evaluate", "output", ["--workdir={clf}", "--output={file}/eval.json"], "under a file"),
    ("evaluate", "output", ["--workdir={clf}", "--output=/sys/eval.json"], "unwritable"),
    ("evaluate", "plot", ["--workdir={clf}", "--plot=maybe"], "wrong type"),
    ("evaluate", "plot_dir", ["--workdir={clf}", "--plot", "--plot_dir={file}"],
     "a file for a directory"),
    ("evaluate", "plot_dir", ["--workdir={clf}", "--plot", "--plot_dir=/sys/tfllm-plots"],
     "unwritable"),
    ("evaluate", "plot_dir", ["--workdir={clf}", "--plot_dir={dir}"], "without --plot"),
    ("evaluate", "generate", ["--workdir={clf}", "--generate=maybe"], "wrong type"),
    ("evaluate", "generate", ["--workdir={clf}", "--generate"], "not for this task"),
    ("evaluate", "max_examples", ["--workdir={lm}", "--generate", "--max_examples=-1"],
     "out of range"),
    ("evaluate", "max_examples", ["--workdir={lm}", "--generate", "--max_examples=abc"],
     "wrong type"),
    ("evaluate", "max_examples", ["--workdir={lm}", "--max_examples=3"], "without --generate"),
    ("evaluate", "text_column", ["--workdir={clf}", "--data={csv}", "--text_column="], "empty"),
    ("evaluate", "text_column", ["--workdir={clf}", "--text_column=review"], "without --data"),
    ("evaluate", "text_pair_column", ["--workdir={clf}", "--data={csv}",
                                      "--text_pair_column="], "empty"),
    ("evaluate", "label_column", ["--workdir={clf}", "--data={csv}", "--label_column="],
     "empty"),
    ("evaluate", "label_column", ["--workdir={clf}", "--label_column=sentiment"],
     "without --data"),
    ("evaluate", "tokens_key", ["--workdir={clf}", "--data={csv}", "--tokens_key=words"],
     "not for this task"),
    ("evaluate", "tags_key", ["--workdir={tagger}", "--data={csv}", "--tags_key="], "empty"),
    ("evaluate", "prompt_column", ["--workdir={lm}", "--data={csv}", "--prompt_column="],
     "empty"),
    ("evaluate", "response_column", ["--workdir={lm}", "--data={csv}", "--response_column="],
     "empty"),
    ("evaluate", "source_column", ["--workdir={s2s}", "--data={csv}", "--source_column="],
     "empty"),
    ("evaluate", "target_column", ["--workdir={s2s}", "--target_column=de"], "without --data"),
    # -- predict ------------------------------------------------------------------------
    ("predict", "workdir", ["--workdir=/nope/run", "--text=a"], "missing directory"),
    ("predict", "workdir", ["--workdir={file}", "--text=a"], "a file for a directory"),
    ("predict", "text", ["--workdir={clf}"], "missing"),
    ("predict", "text", ["--workdir={clf}", "--text= "], "empty"),
    ("predict", "text", ["--workdir={clf}", "--text=a", "--input={csv}"], "with --input"),
    ("predict", "text_pair", ["--workdir={pair}", "--text=a", "--text_pair=b", "--text_pair=c"],
     "one per --text"),
    ("predict", "text_pair", ["--workdir={clf}", "--text=a", "--text_pair=b"],
     "a single-text run"),
    ("predict", "input", ["--workdir={clf}", "--input=/nope.csv"], "missing file"),
    ("predict", "input", ["--workdir={clf}", "--input={dir}"], "a directory for a file"),
    ("predict", "top_k", ["--workdir={clf}", "--text=a", "--top_k=0"], "out of range"),
    ("predict", "top_k", ["--workdir={clf}", "--text=a", "--top_k=three"], "wrong type"),
    ("predict", "question", ["--workdir={clf}", "--question=why?", "--context=because."],
     "not for this task"),
    ("predict", "question", ["--workdir={qa}", "--question=", "--context=because."], "empty"),
    ("predict", "question", ["--workdir={qa}", "--question=why?"], "without --context"),
    ("predict", "context", ["--workdir={qa}", "--question=a?", "--question=b?", "--context=x",
                            "--context=y", "--context=z"], "one, or one per --question"),
    ("predict", "context", ["--workdir={qa}", "--context=x"], "without --question"),
    ("predict", "text_column", ["--workdir={clf}", "--input={csv}", "--text_column="], "empty"),
    ("predict", "text_column", ["--workdir={clf}", "--text=a", "--text_column=review"],
     "without --input"),
    ("predict", "text_pair_column", ["--workdir={pair}", "--input={csv}",
                                     "--text_pair_column="], "empty"),
    ("predict", "source_column", ["--workdir={s2s}", "--text=a", "--source_column=en"],
     "without --input"),
    ("predict", "flagfile", ["--flagfile=/nope.flags"], "missing file"),
    # -- generate -----------------------------------------------------------------------
    ("generate", "workdir", ["--workdir=/nope/run", "--prompt=a"], "missing directory"),
    ("generate", "prompt", ["--workdir={clf}", "--prompt=a"], "not for this task"),
    ("generate", "prompt", ["--workdir={lm}"], "missing"),
    ("generate", "max_new_tokens", ["--workdir={lm}", "--prompt=a", "--max_new_tokens=0"],
     "out of range"),
    ("generate", "max_new_tokens", ["--workdir={lm}", "--prompt=a", "--max_new_tokens=3",
                                    "--max_length=9"], "with --max_length"),
    ("generate", "max_length", ["--workdir={lm}", "--prompt=a", "--max_length=0"],
     "out of range"),
    ("generate", "max_length", ["--workdir={lm}", "--prompt=a", "--max_length=long"],
     "wrong type"),
    ("generate", "sampler", ["--workdir={lm}", "--prompt=a", "--sampler=nucleus"],
     "not a sampler"),
    ("generate", "temperature", ["--workdir={lm}", "--prompt=a", "--sampler=random",
                                 "--temperature=0"], "out of range"),
    ("generate", "temperature", ["--workdir={lm}", "--prompt=a", "--temperature=0.7"],
     "unused by the sampler"),
    ("generate", "top_k", ["--workdir={lm}", "--prompt=a", "--sampler=top_k", "--top_k=0"],
     "out of range"),
    ("generate", "top_p", ["--workdir={lm}", "--prompt=a", "--sampler=top_p", "--top_p=1.5"],
     "out of range"),
    ("generate", "top_p", ["--workdir={lm}", "--prompt=a", "--top_p=most"], "wrong type"),
    ("generate", "num_beams", ["--workdir={lm}", "--prompt=a", "--sampler=beam",
                               "--num_beams=0"], "out of range"),
    ("generate", "seed", ["--workdir={lm}", "--prompt=a", "--seed=-1"], "out of range"),
    ("generate", "seed", ["--workdir={lm}", "--prompt=a", "--seed=x"], "wrong type"),
    ("generate", "weights_dtype", ["--workdir={lm}", "--prompt=a", "--weights_dtype=float16"],
     "not a choice"),
    ("generate", "draft_tokens", ["--workdir={lm}", "--prompt=a", "--draft_tokens=-1"],
     "out of range"),
    ("generate", "raw", ["--workdir={lm}", "--prompt=a", "--raw=maybe"], "wrong type"),
    ("generate", "raw", ["--workdir={s2s}", "--prompt=a", "--raw"], "not for this task"),
    # -- export -------------------------------------------------------------------------
    ("export", "workdir", ["--workdir=/nope/run", "--export_dir={dir}/e"], "missing directory"),
    ("export", "workdir", ["--workdir={dir}", "--export_dir={dir}/e"], "not a finished run"),
    ("export", "model", ["--workdir={clf}", "--model={keras}", "--export_dir={dir}/e"],
     "with --workdir"),
    ("export", "model", ["--model=/nope.keras", "--export_dir={dir}/e"], "missing file"),
    ("export", "model", ["--model={dir}", "--export_dir={dir}/e"], "a directory for a file"),
    ("export", "model", ["--model={file}", "--export_dir={dir}/e"], "not a .keras file"),
    ("export", "export_dir", ["--workdir={clf}"], "missing"),
    ("export", "export_dir", ["--workdir={clf}", "--export_dir={file}"],
     "a file for a directory"),
    ("export", "export_dir", ["--workdir={clf}", "--export_dir={file}/e"], "under a file"),
    ("export", "export_dir", ["--workdir={clf}", "--export_dir=/sys/tfllm-export"],
     "unwritable"),
    ("export", "version", ["--workdir={clf}", "--export_dir={dir}/e", "--version=0"],
     "out of range"),
    ("export", "version", ["--workdir={clf}", "--export_dir={dir}/e", "--version=-3"],
     "negative"),
    ("export", "version", ["--workdir={clf}", "--export_dir={dir}/e", "--version=v2"],
     "wrong type"),
    ("export", "version", ["--workdir={clf}", "--export_dir={exports}", "--version=1"],
     "taken"),
    ("export", "adapters", ["--workdir={clf}", "--export_dir={dir}/e",
                            "--adapters=/nope.adapters.npz"], "missing file"),
    ("export", "adapters", ["--workdir={clf}", "--export_dir={dir}/e", "--adapters={dir}"],
     "a directory for a file"),
    ("export", "adapters", ["--model={keras}", "--export_dir={dir}/e", "--adapters={file}"],
     "with --model"),
    ("export", "labels", ["--model={keras}", "--export_dir={dir}/e", "--labels=a,,b"],
     "empty name"),
    ("export", "labels", ["--model={keras}", "--export_dir={dir}/e", "--labels=a,a"],
     "repeated"),
    ("export", "labels", ["--workdir={clf}", "--export_dir={dir}/e", "--labels=a,b"],
     "with --workdir"),
    # -- explain ------------------------------------------------------------------------
    ("explain", "workdir", ["--workdir=/nope/run", "--text=a"], "missing directory"),
    ("explain", "workdir", ["--workdir={lm}", "--text=a"], "not a classifier"),
    ("explain", "text", ["--workdir={clf}"], "missing"),
    ("explain", "text", ["--workdir={clf}", "--text= "], "empty"),
    ("explain", "text_pair", ["--workdir={clf}", "--text=a", "--text_pair=b"],
     "a single-text run"),
    ("explain", "text_pair", ["--workdir={pair}", "--text=a", "--text=b", "--text_pair=c"],
     "one per --text"),
    ("explain", "target", ["--workdir={clf}", "--text=a", "--target=music"], "unknown label"),
    ("explain", "steps", ["--workdir={clf}", "--text=a", "--steps=0"], "out of range"),
    ("explain", "steps", ["--workdir={clf}", "--text=a", "--steps=many"], "wrong type"),
    ("explain", "output", ["--workdir={clf}", "--text=a", "--output={dir}/heat.txt"],
     "not .html or .png"),
    ("explain", "output", ["--workdir={clf}", "--text=a", "--output=/nope/heat.html"],
     "missing parent"),
    ("explain", "output", ["--workdir={clf}", "--text=a", "--output={htmldir}"],
     "a directory for a file"),
    ("explain", "output", ["--workdir={clf}", "--text=a", "--output=/sys/heat.html"],
     "unwritable"),
    # -- probe-bias ---------------------------------------------------------------------
    ("probe-bias", "workdir", ["--workdir=/nope/run"], "missing directory"),
    ("probe-bias", "workdir", ["--workdir={lm}"], "not a classifier"),
    ("probe-bias", "workdir", ["--workdir={pair}"], "a text-pair classifier"),
    ("probe-bias", "pairs", ["--workdir={clf}", "--pairs=/nope.tsv"], "missing file"),
    ("probe-bias", "pairs", ["--workdir={clf}", "--pairs={dir}"], "a directory for a file"),
    ("probe-bias", "pairs", ["--workdir={clf}", "--pairs={file}"], "not term pairs"),
    ("probe-bias", "data", ["--workdir={clf}", "--data=/nope.csv"], "missing file"),
    ("probe-bias", "data", ["--workdir={clf}", "--data={dir}"], "a directory for a file"),
    ("probe-bias", "flip_threshold", ["--workdir={clf}", "--flip_threshold=1.5"],
     "out of range"),
    ("probe-bias", "flip_threshold", ["--workdir={clf}", "--flip_threshold=high"], "wrong type"),
    ("probe-bias", "shift_threshold", ["--workdir={clf}", "--shift_threshold=-0.1"],
     "out of range"),
    ("probe-bias", "min_texts", ["--workdir={clf}", "--min_texts=0"], "out of range"),
    ("probe-bias", "confidence", ["--workdir={clf}", "--confidence=1"], "out of range"),
    ("probe-bias", "output", ["--workdir={clf}", "--output=/nope/bias.json"], "missing parent"),
    ("probe-bias", "output", ["--workdir={clf}", "--output={dir}"], "a directory for a file"),
]


def row_id(row):
    command, flag, _, kind = row
    return f"{command}--{flag}-{kind.replace(' ', '_')}"


IDS = [row_id(row) for row in ROWS]
assert len(set(IDS)) == len(IDS), "two rows share an id"
# What some of the lines say, beyond naming the flag.
EXPECTED = {
    "predict--question-not_for_this_task":
        "--question: not used by text_classification runs (span_qa runs take it)",
    "evaluate--generate-not_for_this_task": "--generate: not used by text_classification runs "
                                            "(language_modeling, seq2seq runs take it)",
    "generate--raw-not_for_this_task":
        "--raw: not used by seq2seq runs (language_modeling runs take it)",
    "predict--text_pair-a_single-text_run": "--text_pair: this run was trained on single texts",
    "explain--text_pair-a_single-text_run": "--text_pair: this run was trained on single texts",
    "predict--top_k-out_of_range": "--top_k=0",
    "export--version-negative": "--version=-3",
    "evaluate--output-missing_parent": "--output: directory /nope does not exist",
    "evaluate--output-a_directory_for_a_file": "is a directory; expected a file path",
    "export--export_dir-unwritable": "--export_dir: /sys/tfllm-export: cannot write there",
    "train--workdir-a_file_for_a_directory": "is a file; expected a directory",
    "evaluate--plot_dir-without_--plot": "--plot_dir: only with --plot",
}

# The flags a command module defines (as its --help lists them), read in a fresh process.
OWN_FLAGS = """
import json, sys
from absl import flags
module = sys.argv[1]
__import__(module)
print(json.dumps([f.name for f in flags.FLAGS.flags_by_module_dict().get(module, [])]))
"""

# A `tensorflow` that refuses to be imported: every case runs with it first on the path.
REFUSE = "raise ImportError('the flag check imported tensorflow')\n"


def fake_run(directory, config, labels=("food", "sport"), **data):
    """A work directory that passes for a finished run until its model is loaded."""
    os.makedirs(os.path.join(directory, "tokenizer"))
    for key, value in data.items():
        config.data[key] = value
    config_lib.save(config, os.path.join(directory, "config.json"))
    with open(os.path.join(directory, "tokenizer", "labels.txt"), "w", encoding="utf-8") as f:
        f.write("".join(f"{label}\n" for label in labels))
    open(os.path.join(directory, "model.keras"), "wb").close()
    return directory


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    """{placeholder: path} of the files, directories and fake runs the rows name."""
    root = tmp_path_factory.mktemp("sweep")
    paths = {name: str(root / file_name) for name, file_name in (
        ("file", "notes.txt"), ("dir", "empty"), ("csv", "test.csv"), ("keras", "model.keras"),
        ("exports", "exports"), ("htmldir", "page.html"))}
    with open(paths["file"], "w", encoding="utf-8") as f:
        f.write("a note without a separator\n")  # no term pairs either
    os.mkdir(paths["dir"])
    os.mkdir(paths["htmldir"])
    helpers.write_csv(paths["csv"], [("a goal", "sport")])
    open(paths["keras"], "wb").close()
    os.makedirs(os.path.join(paths["exports"], "1"))
    for name, config, data in (
            ("clf", bert_classifier.get_config("smoke"), {}),
            ("pair", bert_classifier.get_config("smoke"), {"text_pair_column": "text_pair"}),
            ("lm", gpt_lm.get_config("smoke"), {}),
            ("s2s", seq2seq.get_config(), {}),
            ("qa", bert_qa.get_config("smoke"), {}),
            ("tagger", bert_tagger.get_config("smoke"), {})):
        paths[name] = fake_run(str(root / name), config, **data)
    refuse = root / "refuse" / "tensorflow"
    refuse.mkdir(parents=True)
    (refuse / "__init__.py").write_text(REFUSE, encoding="utf-8")
    paths["refuse"] = str(refuse.parent)
    paths["root"] = str(root)
    return paths


def run_case(args, cwd, refuse_path):
    """(CompletedProcess, seconds) of `tfllm ARGS` in `cwd`, TensorFlow refused."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [refuse_path, env.get("PYTHONPATH")]))
    command = [helpers.TFLLM] if os.path.exists(helpers.TFLLM) else [
        sys.executable, "-m", "tfllm.cli.main"]
    start = time.monotonic()
    try:
        result = subprocess.run(command + list(args), cwd=cwd, env=env, capture_output=True,
                                text=True, timeout=120, check=False)
    except subprocess.TimeoutExpired as error:  # a check that let the case start the work
        result = subprocess.CompletedProcess(error.cmd, -9, "", "timed out: the work started")
    return result, time.monotonic() - start


@pytest.fixture(scope="module")
def outcomes(request, places):
    """{row id: (CompletedProcess, seconds, cwd)} of the selected rows, run side by side;
    each in an empty directory of its own (which must stay empty)."""
    selected = set(helpers.selected_params(request, "test_a_bad_flag_is_one_line_naming_it",
                                           "row"))
    rows = [row for row in ROWS if row_id(row) in selected]
    calls = []
    for row in rows:
        command, _, args, _ = row
        cwd = os.path.join(places["root"], "cwd", row_id(row))
        os.makedirs(cwd)
        filled = [arg.format(**places) for arg in args]
        calls.append(lambda c=command, a=filled, d=cwd: (*run_case([c, *a], d,
                                                                   places["refuse"]), d))
    start = time.monotonic()
    results = helpers.side_by_side(*calls)
    seconds = sorted(seconds for _, seconds, _ in results)
    print(f"\nflag sweep: {len(rows)} cases in {time.monotonic() - start:.1f}s; "
          f"{seconds[len(seconds) // 2] if seconds else 0:.2f}s median, "
          f"{max(seconds, default=0):.2f}s slowest")
    return {row_id(row): result for row, result in zip(rows, results)}


def test_every_flag_of_every_command_has_a_row():
    modules = {name: f"tfllm.cli.{cli_main.MODULES.get(name, name)}" for name in cli_main.COMMANDS}
    results = helpers.side_by_side(*[
        lambda m=module: subprocess.run([sys.executable, "-c", OWN_FLAGS, m], cwd=helpers.REPO,
                                        capture_output=True, text=True, check=False,
                                        timeout=120)
        for module in modules.values()])
    covered = {(command, flag) for command, flag, *_ in ROWS}
    for command, result in zip(modules, results, strict=True):
        assert result.returncode == 0, result.stderr[-2000:]
        own = json.loads(result.stdout)
        missing = [flag for flag in own if (command, flag) not in covered]
        assert not missing, f"tfllm {command}: no sweep row for --{missing[0]}"
        stale = [flag for c, flag in covered if c == command and flag not in own
                 and flag not in COMMON and not flag.startswith("config")]
        assert not stale, f"tfllm {command} has no flag --{stale[0]}"
    assert {command for command, *_ in ROWS} == set(cli_main.COMMANDS)


@pytest.mark.parametrize("row", IDS)
def test_a_bad_flag_is_one_line_naming_it(row, outcomes):
    result, seconds, cwd = outcomes[row]
    command, flag = next((r[0], r[1]) for r in ROWS if row_id(r) == row)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith(f"tfllm {command}: error: "), lines[0]
    assert re.search(rf"(--|'){re.escape(flag)}\b", lines[0]), lines[0]  # 'nope': unknown
    assert EXPECTED.get(row, "") in lines[0]
    assert result.stdout == "", result.stdout[-2000:]
    assert os.listdir(cwd) == [], f"{row} wrote {os.listdir(cwd)} ({seconds:.1f}s)"


def test_the_fake_runs_and_places_are_unchanged(places, outcomes):
    """Runs after the cases (the same module fixture): nothing wrote into a run."""
    del outcomes
    for name in ("clf", "pair", "lm", "s2s", "qa", "tagger"):
        assert sorted(os.listdir(places[name])) == ["config.json", "model.keras", "tokenizer"]
    assert os.listdir(places["dir"]) == [] and os.listdir(places["exports"]) == ["1"]
