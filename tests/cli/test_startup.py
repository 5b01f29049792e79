"""A quiet, fast start: `import tfllm`, `--help` and a rejected flag or config value need no
TensorFlow; every command's --help lists its own flags; TensorFlow's C++ start-up lines stay
off stderr unless asked for."""

import json
import subprocess
import sys

import pytest

from tests.helpers import REPO, SMOKE, error_line, tfllm, tfllm_all
from tfllm.cli import main as cli_main
from tfllm.cli import quiet

# Imports every light entry point and the command module sys.argv[1] names, validates
# each packaged experiment, then counts the heavy modules that came with them.
LIGHT = """
import sys
import tfllm, tfllm.cli.app, tfllm.config, tfllm.locking, tfllm.models, tfllm.workdir
from tfllm.cli import main
__import__("tfllm.cli." + main.MODULES.get(sys.argv[1], sys.argv[1]))
from tfllm.configs import bert_classifier, bert_qa, bert_tagger, gpt_lm, seq2seq
from tfllm.tasks import registry
for module in (bert_classifier, gpt_lm):
    registry.check_config(module.get_config())
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "keras_hub"))
print(len(heavy), heavy[:5])
"""

# The flags the module of command sys.argv[1] defines (its --help should list them).
OWN_FLAGS = """
import json, sys
from absl import flags
from tfllm.cli import main
module = "tfllm.cli." + main.MODULES.get(sys.argv[1], sys.argv[1])
__import__(module)
print(json.dumps([f.name for f in flags.FLAGS.flags_by_module_dict().get(module, [])]))
"""


def python(script, *args):
    return subprocess.run([sys.executable, "-c", script, *args], cwd=REPO, capture_output=True,
                          text=True, check=False, timeout=300)


def test_import_tfllm_commands_and_config_checks_import_no_tensorflow():
    for name in cli_main.COMMANDS:
        result = python(LIGHT, name)
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.stdout.split()[0] == "0", (name, result.stdout)


def test_every_command_help_lists_its_own_flags_and_an_example_and_exits_0():
    own = {name: json.loads(python(OWN_FLAGS, name).stdout) for name in cli_main.COMMANDS}
    results = tfllm_all(*[(name, "--help") for name in cli_main.COMMANDS])
    for (name, flag_names), result in zip(own.items(), results, strict=True):
        assert result.returncode == 0, (name, result.stderr[-2000:])
        assert result.stdout.startswith(f"usage: tfllm {name} "), result.stdout[:200]
        assert flag_names, name  # every command has flags of its own
        for flag_name in flag_names + ["verbose", "flagfile"]:
            assert f"  --{flag_name}" in result.stdout, (name, flag_name)
        assert f"example:\n  tfllm {name} " in result.stdout
        assert "Try --helpfull" not in result.stdout and result.stderr == ""
    pages = dict(zip(cli_main.COMMANDS, (result.stdout for result in results)))
    assert "docs/config.md" in pages["train"] and len(pages["train"].splitlines()) < 40
    assert "Classifiers: accuracy" in pages["evaluate"]  # the module docstring's details
    assert "--workdir=DIR" in pages["predict"] and "(required)" in pages["predict"]
    assert "--export_dir" not in pages["predict"]  # another command's flag


def test_a_rejected_flag_and_config_value_cost_no_tensorflow(tmp_path):
    report = """
import sys
from tfllm.cli import main
try:
    main.main(["tfllm"] + sys.argv[1:])
except SystemExit as stop:
    print("exit", stop.code, "tensorflow", "tensorflow" in sys.modules)
"""
    cases = [("predict", f"--workdir={tmp_path}", "--top_k=abc"),
             ("train", SMOKE, "--config.train.epochs=abc"),
             ("train", SMOKE, "--config.train.epochs=0", f"--workdir={tmp_path / 'r'}")]
    for case in cases:
        result = python(report, *case)
        assert result.stdout.split() == ["exit", "2", "tensorflow", "False"], (case, result)
        assert "error: " in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_a_configs_name_resolves_to_the_packaged_experiment_outside_a_clone(tmp_path):
    # No configs/ here: the packaged configs/bert_classifier.py:smoke is read (its epochs
    # field exists and 0 is refused by the checks), not "config file not found".
    result = tfllm("train", "--config=configs/bert_classifier.py:smoke",
                   "--config.train.epochs=0", cwd=tmp_path)
    assert result.returncode == 2
    assert "--config.train.epochs: got 0" in error_line(result)
    missing = tfllm("train", "--config=configs/no_such.py", cwd=tmp_path)
    assert "config file not found: configs/no_such.py" in error_line(missing)
    assert "bert_classifier.py" in error_line(missing)  # the packaged names are listed
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "bert_classifier.py").write_text(
        "raise SystemExit('the local file was read')\n")
    local = tfllm("train", "--config=configs/bert_classifier.py", cwd=tmp_path)
    assert "the local file was read" in local.stderr  # a file that exists here wins


@pytest.mark.slow
def test_tensorflow_start_up_lines_stay_off_stderr_unless_verbose(topics_run):
    _, workdir = topics_run
    quiet_run, verbose = tfllm_all(("predict", f"--workdir={workdir}", "--text=a goal"),
                                   ("predict", f"--workdir={workdir}", "--text=a goal",
                                    "--verbose"))
    assert quiet_run.returncode == 0 and verbose.returncode == 0, quiet_run.stderr[-2000:]
    assert quiet_run.stdout == verbose.stdout  # the answer is the same
    start_up = [line for line in verbose.stderr.splitlines() if quiet.dropped(line.encode())]
    assert start_up, verbose.stderr  # there are such lines to hide (oneDNN, CUDA)
    assert not [line for line in quiet_run.stderr.splitlines()
                if quiet.dropped(line.encode()) or "absl::InitializeLog" in line]


def test_the_filter_drops_cpp_log_lines_and_keeps_everything_else():
    assert quiet.dropped(b"I0000 00:00:1796418955.653340    4591 port.cc:153] oneDNN custom "
                         b"operations are on.\n")
    assert quiet.dropped(b"E0000 00:00:1796418957.207618    4591 cuda_platform.cc:52] failed "
                         b"call to cuInit: INTERNAL\n")
    assert quiet.dropped(b"W1204 21:16:06.000123  77 loop.cc:9] slow\n")
    assert quiet.dropped(b"WARNING: All log messages before absl::InitializeLog() is called "
                         b"are written to STDERR\n")
    for kept in (b"F1204 21:16:06.000123  77 check.cc:9] Check failed: x\n",  # fatal
                 b"Traceback (most recent call last):\n",
                 b"tfllm predict: error: --top_k: expected an integer\n",
                 b"I like this film 0000 00:00\n"):
        assert not quiet.dropped(kept)
