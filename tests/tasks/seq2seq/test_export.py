"""Exported seq2seq runs: raw source strings in, target strings out, as Seq2Seq.generate."""

import json
import os
import subprocess
import sys

import pytest

import tfllm
from tests.helpers import export_with_cli
from tfllm.configs import seq2seq
from tfllm.tasks.seq2seq import toy_data as toy_seq2seq
from tfllm.serving import describe
from tfllm.serving import warmup
from tfllm.serving import writer

PAIRS = toy_seq2seq.summarization_pairs(40, seed=2)
# Sources the run saw, one it did not (non-ASCII), one the encoder must cut, and empty ones.
EDGE_CASES = [PAIRS[0][0], PAIRS[1][0], "the brave robot 😀 Ελλ 中文", "ka " * 200, "", "  "]

# Runs in a fresh interpreter: only tensorflow and tensorflow_text are imported.
LOAD_AND_RUN = """
import json, sys
import tensorflow as tf
import tensorflow_text  # registers the tokenizer ops, as TF Serving builds do
loaded = tf.saved_model.load(sys.argv[1])
request = json.loads(sys.stdin.read())
out = {}
served = loaded.signatures["serving_default"](source=tf.constant(request["sources"]))
out["target"] = [x.decode() for x in served["target"].numpy()]
out["target_tokens"] = served["target_tokens"].numpy().tolist()
short = loaded.signatures["generate"](source=tf.constant(request["sources"]),
                                      max_new_tokens=tf.constant(1))
out["short_tokens"] = short["target_tokens"].numpy().tolist()
big = loaded.signatures["serving_default"](source=tf.constant(["hi"] * 300))
out["big"] = big["target"].shape.as_list()
assert not {"tfllm", "keras_hub"} & set(sys.modules), "only tensorflow may be imported"
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("seq2seq_export")
    # JSON Lines with other keys than the default columns
    train = toy_seq2seq.write_pairs(directory / "pairs.jsonl", PAIRS, "sentence", "phrase")
    config = seq2seq.get_config("summarization_smoke")
    config.data.train = config.data.validation = train
    config.data.source_column, config.data.target_column = "sentence", "phrase"
    config.train.epochs = 10  # parity needs clear-cut greedy choices, not a perfect model
    workdir = str(directory / "run")
    tfllm.train(config, workdir)
    return workdir


@pytest.fixture(scope="module")
def version_dir(run, tmp_path_factory):
    return writer.export(run, str(tmp_path_factory.mktemp("exports") / "seq2seq"))


@pytest.mark.slow
def test_export_generates_what_seq2seq_generate_does_in_a_fresh_process(run, version_dir):
    assert sorted(os.listdir(os.path.join(version_dir, "assets"))) == ["merges.txt", "vocab.json"]
    result = subprocess.run([sys.executable, "-c", LOAD_AND_RUN, version_dir],
                            input=json.dumps({"sources": EDGE_CASES}), capture_output=True,
                            text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    served = json.loads(result.stdout.splitlines()[-1])
    translator = tfllm.load(run)
    # In process an empty source is an error; served, it is an empty `<s> </s>` input.
    texts = EDGE_CASES[:4]
    assert served["target"][:4] == translator.generate(texts)
    limit = translator.config.generation.max_new_tokens
    assert all(0 <= n <= limit for n in served["target_tokens"])
    assert all(n <= 1 for n in served["short_tokens"])
    assert served["big"] == [300]


def test_warmup_requests_cover_every_signature_and_no_xla_op_is_left(version_dir):
    logs = warmup.read_warmup_requests(version_dir)
    assert [log.predict_log.request.model_spec.signature_name for log in logs] == [
        "serving_default", "generate"]
    ops = describe.custom_ops(version_dir)
    assert ops and not [op for op in ops if op.startswith("Xla")], ops


@pytest.mark.slow
def test_cli_export_prints_the_source_signature(run, tmp_path):
    printed = export_with_cli(run, tmp_path / "seq2seq")
    assert "input  source: string" in printed and "output target: string" in printed
    assert '"inputs": {"source": ["What is AI?"]}' in printed
