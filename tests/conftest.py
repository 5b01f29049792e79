"""Runs that several test modules read, each trained once per session.

A shared run is read, never written: a test that writes into a work directory
(`tfllm evaluate` without --output, `tfllm probe-bias`, a second `tfllm train`
that continues it) trains its own run or works on a copy (`helpers.copy_run`).
Each shared run's files are fingerprinted after training and checked again when
the session ends, so a test that writes into one fails instead of changing what
the next module reads.
"""

import pytest

import tfllm
# Tests load saved models with plain keras.saving.load_model, as a user would after this
# import; `import tfllm` alone is light (tests/cli/test_startup.py).
import tfllm.keras_objects  # noqa: F401  pylint: disable=unused-import
from tests import helpers
from tfllm.configs import bert_qa, bert_tagger
from tfllm.tasks.span_qa import toy_data as toy_qa
from tfllm.tasks.tagging import toy_data as toy_tagging


def assert_unchanged(workdir, before):
    assert helpers.fingerprint(workdir) == before, f"a test wrote into the shared run {workdir}"


@pytest.fixture(scope="session")
def topics_run(tmp_path_factory):
    """(report, workdir): the smoke classifier trained on `toy_topics(60)` until it separates
    sport from food (`helpers.train_until_learned`), through the Python API."""
    report, workdir = helpers.train_until_learned(str(tmp_path_factory.mktemp("topics")),
                                                  helpers.toy_topics(60))
    before = helpers.fingerprint(workdir)
    yield report, workdir
    assert_unchanged(workdir, before)


@pytest.fixture(scope="session")
def smoke_cli_run(tmp_path_factory):
    """(workdir, CompletedProcess): `tfllm train --config=configs/bert_classifier.py:smoke`
    (the default corpus, 21 topics) in a subprocess, as a user runs it."""
    workdir = tmp_path_factory.mktemp("smoke_cli") / "run"
    result = helpers.tfllm("train", helpers.SMOKE, f"--workdir={workdir}")
    assert result.returncode == 0, result.stderr[-3000:]
    before = helpers.fingerprint(workdir)
    yield workdir, result
    assert_unchanged(workdir, before)


@pytest.fixture(scope="session")
def gpt_run(tmp_path_factory):
    """(workdir, CompletedProcess): `tfllm train --config=configs/gpt_lm.py:smoke` in a
    subprocess, with 12 steps per epoch (not 3): its next-token distributions are then peaked
    enough that greedy choices are clear-cut, which the export tests need to compare served
    and in-process text."""
    workdir = str(tmp_path_factory.mktemp("gpt") / "run")
    result = helpers.tfllm("train", "--config=configs/gpt_lm.py:smoke",
                           "--config.train.steps_per_epoch=12", f"--workdir={workdir}")
    assert result.returncode == 0, result.stderr[-3000:]
    before = helpers.fingerprint(workdir)
    yield workdir, result
    assert_unchanged(workdir, before)


@pytest.fixture(scope="session")
def tagger_run(tmp_path_factory):
    """(workdir, report): the `:smoke` tagger trained on toy_data's 600 sentences (seed 0),
    through the Python API."""
    directory = tmp_path_factory.mktemp("tagger")
    config = bert_tagger.get_config("smoke")
    config.data.train = toy_tagging.write_conll(directory / "toy.conll", 600, seed=0)
    workdir = str(directory / "run")
    report = tfllm.train(config, workdir)
    before = helpers.fingerprint(workdir)
    yield workdir, report
    assert_unchanged(workdir, before)


@pytest.fixture(scope="session")
def qa_run(tmp_path_factory):
    """(workdir, report, SQuAD file): the `:smoke` span QA model trained on toy_data's 300
    contexts (a fifth of the questions unanswerable, seed 0), through the Python API."""
    directory = tmp_path_factory.mktemp("qa")
    config = bert_qa.get_config("smoke")
    config.data.train = toy_qa.write_squad(directory / "toy.json", 300, seed=0, unanswerable=0.2)
    workdir = str(directory / "run")
    report = tfllm.train(config, workdir)
    before = helpers.fingerprint(workdir)
    yield workdir, report, config.data.train
    assert_unchanged(workdir, before)
