"""Exported classifiers: load with only tensorflow + tensorflow_text, match the Keras model."""

import os

import numpy as np
import pytest

import tfllm
from tests import helpers
from tests.helpers import (export_with_cli, saved_model_cli_show_and_run, smoke_config,
                           toy_topics, write_csv)
from tfllm.errors import TfllmError
from tfllm.serving import writer

EDGE_CASES = ["What is AI?", "", "   \t ", "word " * 500, "😀 mixed Ελληνικά 中文 العربية",
              "<b>Who</b> WROTE   Hamlet?"]

# Runs in a fresh interpreter: only tensorflow and tensorflow_text are imported.
# Reads a JSON list of requests; calls serving_default once per request.
LOAD_AND_RUN = """
import json, sys
import tensorflow as tf
import tensorflow_text  # registers the tokenizer ops, as TF Serving builds do
serving = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
results = []
for inputs in json.loads(sys.stdin.read()):
    out = serving(**{name: tf.constant(value, tf.string) for name, value in inputs.items()})
    results.append({"probabilities": out["probabilities"].numpy().tolist(),
                    "label_id": out["label_id"].numpy().tolist(),
                    "label": [x.decode() for x in out["label"].numpy()]})
assert not {"tfllm", "keras_hub"} & set(sys.modules), "only tensorflow may be imported"
print(json.dumps(results))
"""


def request(texts, text_pairs=None):
    return {"text": texts, **({"text_pair": text_pairs} if text_pairs is not None else {})}


def serve_all_in_fresh_process(version_dir, *requests):
    """Calls serving_default on each `request(...)` in one fresh interpreter (one process
    start for all); returns one output per request."""
    return helpers.run_script(LOAD_AND_RUN, version_dir, requests)


def serve_in_fresh_process(version_dir, texts, text_pairs=None):
    """serving_default's output for one batch, in a fresh interpreter."""
    return serve_all_in_fresh_process(version_dir, request(texts, text_pairs))[0]


@pytest.fixture(scope="module")
def run(smoke_cli_run):
    """The shared `tfllm train` `:smoke` run (tests/conftest.py): 21 topics."""
    return str(smoke_cli_run[0])


@pytest.fixture(scope="module")
def exported(run, tmp_path_factory):
    """(export_dir, version_dir): `writer.export` of the run; tests read, never add to it."""
    export_dir = str(tmp_path_factory.mktemp("classifier") / "export")
    return export_dir, writer.export(run, export_dir)


@pytest.fixture(scope="module")
def version_dir(exported):
    return exported[1]


@pytest.fixture(scope="module")
def served(version_dir):
    """serving_default's outputs, in one fresh process, for EDGE_CASES, a batch of one and a
    batch of 512."""
    return serve_all_in_fresh_process(version_dir, request(EDGE_CASES), request(["one"]),
                                      request([f"text {i}" for i in range(512)]))


@pytest.mark.slow
def test_export_matches_the_keras_model_on_edge_cases(run, exported, served):
    export_dir, version_dir = exported
    assert version_dir == os.path.join(export_dir, "1")
    assert sorted(os.listdir(os.path.join(version_dir, "assets"))) == ["labels.txt", "vocab.txt"]
    classifier = tfllm.load(run)
    edge_cases = served[0]
    np.testing.assert_allclose(edge_cases["probabilities"], classifier.probabilities(EDGE_CASES),
                               atol=1e-5)
    expected = [r["label"] for r in classifier.predict(EDGE_CASES)]
    assert edge_cases["label"] == expected
    assert edge_cases["label_id"] == [classifier.labels.index(label) for label in expected]


@pytest.mark.slow
def test_batches_of_one_and_512_are_well_formed(served):
    _, one, big = served
    assert len(one["label"]) == 1
    assert np.asarray(big["probabilities"]).shape == (512, 21)
    np.testing.assert_allclose(np.sum(big["probabilities"], axis=1), 1.0, atol=1e-5)


def test_versions_count_up_and_are_never_overwritten(run, tmp_path):
    export_dir = str(tmp_path / "export")
    os.makedirs(os.path.join(export_dir, "3"))
    assert writer.next_version(export_dir) == 4
    with pytest.raises(TfllmError, match="versions are never overwritten"):
        writer.export(run, export_dir, version=3)


def test_failed_export_leaves_no_partial_version(run, tmp_path, monkeypatch):
    export_dir = str(tmp_path / "export")

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(writer.tf.saved_model, "save", fail)
    with pytest.raises(TfllmError, match=r"export/1: the export could not be written \(disk "
                                         r"full\); nothing was left behind"):
        writer.export(run, export_dir)
    assert not os.path.exists(export_dir)  # made for the export, removed with nothing in it
    os.makedirs(export_dir)
    with pytest.raises(TfllmError, match="disk full"):
        writer.export(run, export_dir)
    assert os.listdir(export_dir) == []  # a directory that was there stays, empty


@pytest.mark.slow
def test_each_weight_is_stored_once(run, version_dir):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    reader = tf.train.load_checkpoint(os.path.join(version_dir, "variables", "variables"))
    stored = [k for k in reader.get_variable_to_shape_map() if k.endswith("VARIABLE_VALUE")]
    model = tfllm.load(run).model
    assert len(stored) == len(model.variables)
    assert sum(reader.get_tensor(k).nbytes for k in stored) == sum(
        v.numpy().nbytes for v in model.variables)


@pytest.mark.slow
def test_cli_export_then_saved_model_cli_show_and_run(run, tmp_path):
    export_dir = tmp_path / "bert"
    printed = export_with_cli(run, export_dir)
    assert f"exported {export_dir / '1'}" in printed
    assert "signature_def['serve_examples']" in printed
    assert "FastWordpieceTokenizeWithOffsets" in printed
    assert "curl -s -X POST http://localhost:8501/v1/models/bert:predict" in printed
    shown, ran = saved_model_cli_show_and_run(export_dir / "1", 'text=["What is AI?"]')
    assert "signature_def['serving_default']" in shown
    assert "Result for output key label" in ran


def test_warmup_requests_cover_every_signature(version_dir):
    from tfllm.serving import warmup  # pylint: disable=import-outside-toplevel
    logs = warmup.read_warmup_requests(version_dir)
    names = [log.predict_log.request.model_spec.signature_name for log in logs]
    assert names == ["serving_default", "serve_examples", "serve_token_ids"]
    assert set(logs[2].predict_log.request.inputs) == {"token_ids", "segment_ids", "padding_mask"}


@pytest.mark.slow
def test_pair_task_export_takes_text_and_text_pair(tmp_path):
    rows = [(a, b, label) for (a, label), (b, _) in zip(toy_topics(30), toy_topics(30)[::-1])]
    config = smoke_config(train=write_csv(tmp_path / "pairs.csv", rows,
                                          header=("text", "text_pair", "label")),
                          text_pair_column="text_pair")
    workdir = str(tmp_path / "run")
    tfllm.train(config, workdir)
    version_dir = writer.export(workdir, str(tmp_path / "export"))
    texts, pairs = ["the goal", "", "soup " * 300], ["bread", "team", ""]
    served = serve_in_fresh_process(version_dir, texts, pairs)
    np.testing.assert_allclose(served["probabilities"],
                               tfllm.load(workdir).probabilities(texts, pairs), atol=1e-5)


def test_wrong_dtype_or_missing_input_is_a_signature_error(version_dir):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    serving = tf.saved_model.load(version_dir).signatures["serving_default"]
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
        serving(text=tf.constant([1, 2]))
    with pytest.raises(TypeError):
        serving()
    assert serving(text=tf.constant(["still fine"]))["label"].shape == (1,)
