"""What step-level backups cost: one backup against one training step, default models.

For the default classifier and language model (model.size from the config,
or --size), times training steps on random tokens, then backups of the
trained state (weights, optimizer, metrics; written, synced and renamed),
and prints the overhead at the config's train.backup_every_steps. Medians
of per-step times; backups are timed as a mean over --backups.

    python benchmarks/backup_cost.py [--steps=20] [--backups=5] [--size=] [--quick]
"""

import os
import sys
import tempfile
import time

import keras
import numpy as np

import tfllm  # noqa: F401  sets the Keras backend
from common import options
from tfllm.configs import bert_classifier, gpt_lm
from tfllm.training import backup as backup_lib
from tfllm.tasks.language_model import task as lm_loop
from tfllm.tasks.classification import task as classification
from tfllm.models import encoder
from tfllm.training import run
from tfllm.training import compiling


def classifier(config, steps):
    vocabulary = config.tokenizer.vocabulary_size
    config = encoder.resolve(config, vocabulary)
    model, _ = classification.build(config, vocabulary, num_labels=8)
    classification.TASK.compile_model(model, config, steps_per_epoch=100)
    rng = np.random.default_rng(0)
    n, length = steps * config.data.batch_size, config.data.max_seq_length
    x = {"token_ids": rng.integers(5, vocabulary, (n, length)).astype(np.int32),
         "segment_ids": np.zeros((n, length), np.int32), "padding_mask": np.ones((n, length), bool)}
    return config, model, x, np.eye(8, dtype=np.float32)[rng.integers(0, 8, n)]


def language_model(config, steps):
    vocabulary = config.tokenizer.vocabulary_size
    config = lm_loop.resolve(config, vocabulary, pairs=False)
    model, _ = lm_loop.build_model(config, vocabulary)
    compiling.compile_token_model(model, config, steps_per_epoch=100)
    rng = np.random.default_rng(0)
    n, length = steps * config.data.batch_size, config.data.max_seq_length
    x = {"token_ids": rng.integers(0, vocabulary, (n, length)).astype(np.int32),
         "padding_mask": np.ones((n, length), bool)}
    return config, model, x, rng.integers(0, vocabulary, (n, length)).astype(np.int32)


def seconds_per_step(model, x, y, batch_size):
    """Median seconds per step of one fit over the batches of `x`, after a warm-up fit."""
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)  # trace, build the optimizer
    timer = StepTimes()
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, callbacks=[timer])
    return float(np.median(np.diff(timer.ends)))


class StepTimes(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.ends = [time.perf_counter()]

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())


def seconds_per_backup(model, backups):
    with tempfile.TemporaryDirectory() as directory:
        writer = backup_lib.Backup(directory, steps_per_epoch=10**9)
        writer.set_model(model)
        start = time.perf_counter()
        for _ in range(backups):
            writer.step += 1
            writer.save(epoch_end=False)
        seconds = (time.perf_counter() - start) / backups
        size = sum(os.path.getsize(os.path.join(d, f))
                   for d, _, files in os.walk(directory) for f in files) / writer.keep
    return seconds, size


def main(argv):
    args = options(argv, {"steps": 20, "backups": 5, "size": ""},
                   quick={"steps": 2, "backups": 1, "size": "tiny"})
    steps, backups = args.steps, args.backups
    print("| model | parameters | backup size | seconds per step | seconds per backup "
          "| overhead at backup_every_steps |")
    print("|---|---|---|---|---|---|")
    for name, get_config, build in (("bert_classifier", bert_classifier.get_config, classifier),
                                    ("gpt_lm", gpt_lm.get_config, language_model)):
        config = get_config()
        config.model.size = args.size or config.model.size
        with run.runtime(config):
            config, model, x, y = build(config, steps)
            step = seconds_per_step(model, x, y, config.data.batch_size)
            save, size = seconds_per_backup(model, backups)
        every = config.train.backup_every_steps
        print(f"| {name} ({config.model.size}) | {model.count_params():,} | "
              f"{size / 2**20:.1f} MiB | {step:.3f} | {save:.3f} | "
              f"{save / (every * step):.2%} at {every} |", flush=True)


if __name__ == "__main__":
    main(sys.argv)
