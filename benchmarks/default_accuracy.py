"""Validation accuracy of the default experiment against a bag-of-words baseline, same splits.

For each split seed: the default config trains in a temporary work directory,
and a bag-of-words logistic regression (word counts or tf-idf -> softmax,
L2-regularized) trains on exactly the same de-duplicated train/validation
split. The baseline reports its best validation accuracy over a small grid of
features and L2 strengths, which flatters it: the comparison is conservative.
Prints one row per seed and the mean, with wall times.

    python benchmarks/default_accuracy.py --seeds=0,1,2 [--config.field=value ...] [--quick]

--quick trains the `:smoke` variant on one seed against one bag-of-words setting.
"""

import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

import tfllm
from tfllm.configs import bert_classifier
from tfllm.data import examples as examples_lib


def bag_of_words_accuracy(examples, output_mode="count", l2=1e-3, epochs=200):
    """Trains bag-of-words logistic regression on `examples.train`; returns validation accuracy."""
    index = {label: i for i, label in enumerate(examples.labels)}
    vectorize = keras.layers.TextVectorization(output_mode=output_mode)
    vectorize.adapt(tf.constant([r.text for r in examples.train]))

    def arrays(records):
        x = vectorize(tf.constant([r.text for r in records]))
        return x, np.array([index[r.label] for r in records])

    x_train, y_train = arrays(examples.train)
    x_val, y_val = arrays(examples.validation)
    model = keras.Sequential([keras.layers.Dense(
        len(examples.labels), kernel_regularizer=keras.regularizers.L2(l2))])
    model.compile(keras.optimizers.Adam(0.01),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=len(y_train), epochs=epochs, verbose=0)
    return float(model.evaluate(x_val, y_val, verbose=0)[1])


def main(argv):
    seeds = [0, 1, 2]
    overrides = []
    quick = "--quick" in argv
    for arg in argv[1:]:
        if arg == "--quick":
            seeds = [0]
        elif arg.startswith("--seeds="):
            seeds = [int(s) for s in arg.split("=", 1)[1].split(",")]
        elif arg.startswith("--config."):
            key, value = arg[len("--config."):].split("=", 1)
            overrides.append((key, value))
        else:
            raise SystemExit(f"unknown argument {arg}")
    print("| split seed | validation examples | majority | best bag-of-words LR | tfllm default "
          "| ratio | tfllm wall time |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    for seed in seeds:
        config = bert_classifier.get_config("smoke" if quick else "")
        config.train.verbose = 0
        config.data.split_seed = seed
        for key, value in overrides:
            *parents, leaf = key.split(".")
            section = config
            for part in parents:
                section = section[part]
            section[leaf] = type(section[leaf])(value)
        examples = examples_lib.prepare(config.data)
        grid = [("count", 1e-3)] if quick else [
            (mode, l2) for mode in ("count", "tf_idf") for l2 in (1e-4, 1e-3, 1e-2)]
        bow = max(bag_of_words_accuracy(examples, mode, l2, epochs=5 if quick else 200)
                  for mode, l2 in grid)
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as workdir:
            report = tfllm.train(config, workdir + "/run")
        seconds = time.perf_counter() - start
        rows.append((report["accuracy"], bow, seconds))
        print(f"| {seed} | {report['examples']} | {report['majority_baseline']:.3f} | {bow:.3f} "
              f"| {report['accuracy']:.3f} | {report['accuracy'] / bow:.3f} | {seconds:.0f} s |",
              flush=True)
    ours, bow, seconds = (np.mean(column) for column in zip(*rows))
    print(f"| mean | | | {bow:.3f} | {ours:.3f} | {ours / bow:.3f} | {seconds:.0f} s |")


if __name__ == "__main__":
    main(sys.argv)
