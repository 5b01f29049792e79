"""Exported language models: load with only tensorflow + tensorflow_text, generate as in process."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import tfllm
from tests.helpers import export_with_cli, saved_model_cli_show_and_run
from tfllm.serving import describe
from tfllm.serving import warmup

EDGE_CASES = ["What is AI?", "", "   \t ", "word " * 500, "😀 Ελλ 中文",
              "Do you like music?"]

# Runs in a fresh interpreter: only tensorflow and tensorflow_text are imported.
LOAD_AND_RUN = """
import json, sys
import tensorflow as tf
import tensorflow_text  # registers the tokenizer ops, as TF Serving builds do
loaded = tf.saved_model.load(sys.argv[1])
request = json.loads(sys.stdin.read())
out = {}
generated = loaded.signatures["serving_default"](prompt=tf.constant(request["prompts"]))
out["completion"] = [x.decode() for x in generated["completion"].numpy()]
out["generated_text"] = [x.decode() for x in generated["generated_text"].numpy()]
out["completion_tokens"] = generated["completion_tokens"].numpy().tolist()
sampled = [loaded.signatures["generate"](
    prompt=tf.constant(request["prompts"]), max_new_tokens=tf.constant(6),
    temperature=tf.constant(1.5), top_k=tf.constant(0), top_p=tf.constant(0.95),
    seed=tf.constant(seed))["completion"].numpy().tolist() for seed in (1, 1, 2)]
out["same_seed_same_text"] = sampled[0] == sampled[1]
out["other_seed_other_text"] = sampled[0] != sampled[2]
scored = loaded.signatures["score"](text=tf.constant(request["prompts"]))
out["log_likelihood"] = scored["log_likelihood"].numpy().tolist()
out["token_count"] = scored["token_count"].numpy().tolist()
big = loaded.signatures["serving_default"](prompt=tf.constant(["hi"] * 512))
out["big"] = big["completion"].shape.as_list()
one = loaded.signatures["serving_default"](prompt=tf.constant(["hi"]))
out["one"] = [x.decode() for x in one["completion"].numpy()]
assert not {"tfllm", "keras_hub"} & set(sys.modules), "only tensorflow may be imported"
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def run(gpt_run):
    """The shared `:smoke` GPT run (tests/conftest.py), trained 12 steps per epoch so that
    greedy choices are clear-cut."""
    return gpt_run[0]


@pytest.fixture(scope="module")
def cli_export(run, tmp_path_factory):
    """(export_dir, printed): `tfllm export` of the run; every test reads its version 1."""
    export_dir = tmp_path_factory.mktemp("exports") / "gpt"
    return export_dir, export_with_cli(run, export_dir)


@pytest.fixture(scope="module")
def version_dir(cli_export):
    return str(cli_export[0] / "1")


def log_likelihood(lm, text):
    """In-process reference: sum of log p(token | previous) after end-of-text."""
    ids = np.concatenate([[lm.end_id], lm.tokenize([text])[0]])[:lm.context_length][None]
    logits = np.asarray(lm.model({"token_ids": ids, "padding_mask": np.ones_like(ids)}),
                        np.float64)[0]
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return log_probs[np.arange(len(ids[0]) - 1), ids[0, 1:]].sum(), len(ids[0]) - 1


@pytest.mark.slow
def test_export_generates_and_scores_like_the_keras_model(run, version_dir):
    assert sorted(os.listdir(os.path.join(version_dir, "assets"))) == ["merges.txt", "vocab.json"]
    result = subprocess.run([sys.executable, "-c", LOAD_AND_RUN, version_dir],
                            input=json.dumps({"prompts": EDGE_CASES}), capture_output=True,
                            text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    served = json.loads(result.stdout.splitlines()[-1])

    lm = tfllm.load(run)
    # In process, empty prompts are an error and the 500-word one overflows the context;
    # served, they generate after end-of-text and after the prompt's last tokens.
    fits = [EDGE_CASES[0], EDGE_CASES[4], EDGE_CASES[5]]
    expected = lm.generate(fits, max_new_tokens=lm.config.generation.max_new_tokens)
    assert [served["completion"][EDGE_CASES.index(p)] for p in fits] == expected
    for prompt, full, completion in zip(EDGE_CASES, served["generated_text"],
                                        served["completion"]):
        assert full == f"{prompt}\n{completion}"
    assert all(0 <= n <= 8 for n in served["completion_tokens"])
    assert served["same_seed_same_text"] and served["other_seed_other_text"]
    for text, got, count in zip(EDGE_CASES, served["log_likelihood"], served["token_count"]):
        want, want_count = log_likelihood(lm, text)
        assert count == want_count
        assert got == pytest.approx(want, rel=1e-4, abs=1e-3)
    assert served["big"] == [512]
    assert served["one"] == lm.generate(["hi"], max_new_tokens=lm.config.generation.max_new_tokens)


def test_wrong_dtype_or_missing_input_is_a_signature_error(version_dir):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    generate = tf.saved_model.load(version_dir).signatures["generate"]
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
        generate(prompt=tf.constant([1, 2]), max_new_tokens=tf.constant(2),
                 temperature=tf.constant(0.0), top_k=tf.constant(0), top_p=tf.constant(1.0),
                 seed=tf.constant(0))
    with pytest.raises(TypeError):
        generate(prompt=tf.constant(["hi"]))


def test_warmup_requests_cover_every_signature(version_dir):
    logs = warmup.read_warmup_requests(version_dir)
    names = [log.predict_log.request.model_spec.signature_name for log in logs]
    assert names == ["serving_default", "generate", "score"]


def test_the_graph_needs_no_xla_op(version_dir):
    # tensorflow_model_server answers XLA-only ops (keras' XlaDynamicUpdateSlice cache
    # update) with an error unless started with --xla_cpu_compilation_enabled.
    ops = describe.custom_ops(version_dir)
    assert ops and not [op for op in ops if op.startswith("Xla")], ops


def test_each_weight_is_stored_once(run, version_dir):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    reader = tf.train.load_checkpoint(os.path.join(version_dir, "variables", "variables"))
    stored = [k for k in reader.get_variable_to_shape_map() if k.endswith("VARIABLE_VALUE")]
    model = tfllm.load(run).model
    assert sum(reader.get_tensor(k).nbytes for k in stored
               if "model_variables" in k) == sum(v.numpy().nbytes for v in model.variables)


@pytest.mark.slow
def test_cli_export_then_saved_model_cli_show_and_run(cli_export):
    export_dir, printed = cli_export
    assert f"exported {export_dir / '1'}" in printed
    assert "signature_def['generate']" in printed and "signature_def['score']" in printed
    assert '"inputs": {"prompt": ["What is AI?"]}' in printed
    shown, ran = saved_model_cli_show_and_run(export_dir / "1", 'prompt=["What is AI?"]')
    assert "signature_def['serving_default']" in shown
    assert "Result for output key generated_text" in ran
