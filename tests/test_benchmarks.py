"""Every benchmark script still runs: its --quick mode, in this process (no timing asserted).

The two experiments that start from installed checkpoints take minutes even on a toy
workload (importing and saving a 135M-parameter decoder dominates), so CI runs their
quick modes after the suite (`.ci/run`); the suite's own pretrained tests cover their code.
"""

import os
import runpy
import sys

import keras
import pytest

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "benchmarks")
CHECKPOINT_EXPERIMENTS = ("pretrained_lm.py", "pretrained_vs_scratch.py")  # run by .ci/run
SCRIPTS = sorted(name for name in os.listdir(BENCHMARKS) if name.endswith(".py")
                 and name != "common.py" and name not in CHECKPOINT_EXPERIMENTS)


def test_every_script_is_run_here_or_by_ci():
    with open(os.path.join(os.path.dirname(BENCHMARKS), ".ci", "run"), encoding="utf-8") as f:
        ci = f.read()
    assert all(f"benchmarks/{name} --quick" in ci for name in CHECKPOINT_EXPERIMENTS)
    assert len(SCRIPTS) >= 8 and "input_pipeline.py" in SCRIPTS


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_quick_mode_prints_its_table(script, monkeypatch, capsys):
    monkeypatch.syspath_prepend(BENCHMARKS)
    monkeypatch.setattr(sys, "argv", [script, "--quick"])
    try:
        runpy.run_path(os.path.join(BENCHMARKS, script), run_name="__main__")
    finally:
        keras.mixed_precision.set_global_policy("float32")
        keras.backend.clear_session()
    printed = capsys.readouterr().out
    assert "|---" in printed, printed  # a Markdown table, as BENCHMARKS.md records it
    rows = [line for line in printed.splitlines() if line.startswith("| ")]
    assert len(rows) >= 3, printed


def test_unknown_option_names_the_known_ones(monkeypatch):
    monkeypatch.syspath_prepend(BENCHMARKS)
    from common import options  # pylint: disable=import-outside-toplevel

    with pytest.raises(SystemExit, match="unknown argument '--step=3'; expected --quick or one "
                                         "of --steps, --repeats"):
        options(["x", "--step=3"], {"steps": 1, "repeats": 2})
    parsed = options(["x", "--quick", "--steps=7"], {"steps": 1, "repeats": 2},
                     quick={"steps": 2, "repeats": 3})
    assert (parsed.quick, parsed.steps, parsed.repeats) == (True, 7, 3)
