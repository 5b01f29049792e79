"""Export size against Keras's own export, and latency of the loaded SavedModel.

    python benchmarks/serving.py --workdir=runs/bert_classifier [--repeats=200] [--quick]

Size: the variables/ directory of `tfllm export` against `model.export()`
(Keras's ExportArchive) for the same model. Latency: `serving_default` (raw
text, tokenized in the graph) against `serve_token_ids` (the same inputs,
tokenized beforehand) at batch 1 and 32, p50 and p99 over `repeats` calls,
measured on the SavedModel loaded back, after warm-up calls.
"""

import os
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf

import tfllm
from common import options, workdir_or_smoke_run
from tfllm.configs import bert_classifier
from tfllm.data import default_corpus


def directory_mb(path):
    total = sum(os.path.getsize(os.path.join(root, name))
                for root, _, names in os.walk(path) for name in names)
    return total / 1e6


def percentiles(call, repeats, warmup=5):
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    return np.percentile(times, 50), np.percentile(times, 99)


def main(argv):
    args = options(argv, {"workdir": "", "repeats": 200}, quick={"repeats": 2})
    with tempfile.TemporaryDirectory() as tmp:
        workdir = workdir_or_smoke_run(args, bert_classifier.get_config, tmp)
        repeats = args.repeats
        classifier = tfllm.load(workdir)
        ours = tfllm.export(workdir, os.path.join(tmp, "tfllm"))
        keras_dir = os.path.join(tmp, "keras")
        classifier.model.export(keras_dir, format="tf_saved_model", verbose=False)
        ours_mb = directory_mb(os.path.join(ours, "variables"))
        keras_mb = directory_mb(os.path.join(keras_dir, "variables"))
        params_mb = sum(v.numpy().nbytes for v in classifier.model.variables) / 1e6
        print(f"weights {params_mb:.1f} MB; variables/ of tfllm export {ours_mb:.1f} MB, "
              f"of Keras model.export() {keras_mb:.1f} MB (ratio {keras_mb / ours_mb:.2f})")

        loaded = tf.saved_model.load(ours)
        texts = [r.text for r in default_corpus.topic_records()]
        print("| batch | serving_default p50 / p99 ms | serve_token_ids p50 / p99 ms "
              "| tokenization overhead (p50) |")
        print("|---|---|---|---|")
        for batch in (1, 32):
            text = tf.constant(texts[:batch])
            features = tf.function(classifier.to_features)(text)
            raw = percentiles(lambda: loaded.signatures["serving_default"](text=text), repeats)
            ids = percentiles(lambda: loaded.signatures["serve_token_ids"](**features), repeats)
            print(f"| {batch} | {raw[0]:.2f} / {raw[1]:.2f} | {ids[0]:.2f} / {ids[1]:.2f} "
                  f"| {raw[0] / ids[0]:.2f}x |", flush=True)


if __name__ == "__main__":
    main(sys.argv)
