"""Training throughput of the default model under each padding / precision / XLA setting.

Every variant trains the same model on the same cached batches of the default
corpus; the first (every batch padded to data.max_seq_length, float32, the
defaults before dynamic padding) is the baseline and each row prints its
ratio to it, in examples/s and in real (non-padding) tokens/s.

    python benchmarks/train_throughput.py [--steps=40] [--size=mini] [--quick]
"""

import sys
import time

import keras

import tfllm  # noqa: F401  sets the Keras backend
from common import options
from tfllm.configs import bert_classifier
from tfllm.data import examples as examples_lib
from tfllm.data import pipeline
from tfllm.data import tokenizer as tokenizer_lib
from tfllm.tasks.classification import task as classification
from tfllm.models import encoder
from tfllm.training import run

VARIANTS = [  # (name, data.padding, mixed_precision, jit_compile); the first is the baseline
    ("static, float32", "static", "float32", False),
    ("static, mixed_bfloat16", "static", "mixed_bfloat16", False),
    ("static, float32 + XLA", "static", "float32", True),
    ("dynamic, float32", "dynamic", "float32", False),
    ("bucketed, float32", "bucketed", "float32", False),
    ("bucketed, mixed_bfloat16", "bucketed", "mixed_bfloat16", False),
]


class StepTimer(keras.callbacks.Callback):
    """Seconds for the steps after `skip` (tracing and warm-up excluded)."""

    def __init__(self, skip):
        super().__init__()
        self.skip = skip
        self.start = None

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 == self.skip:
            self.start = time.perf_counter()

    def on_train_end(self, logs=None):
        self.seconds = time.perf_counter() - self.start


def examples_per_second(config, train_ds, vocabulary_size, num_labels, steps, skip):
    with run.runtime(config):
        model, _ = classification.build(config, vocabulary_size, num_labels)
        classification.TASK.compile_model(model, config, steps_per_epoch=steps)
        timer = StepTimer(skip)
        model.fit(train_ds, epochs=1, steps_per_epoch=steps + skip, callbacks=[timer],
                  verbose=0, shuffle=False)
    return steps * config.data.batch_size / timer.seconds


def main(argv):
    args = options(argv, {"steps": 40, "warmup": 5, "size": "mini"},
                   quick={"steps": 2, "warmup": 1, "size": "tiny"})
    steps = args.steps
    config = bert_classifier.get_config()
    config.model.size = args.size
    examples = examples_lib.prepare(config.data)
    texts = [r.text.lower() for r in examples.train]
    vocabulary = tokenizer_lib.learn_vocabulary(texts, config.tokenizer.vocabulary_size)
    config = encoder.resolve(config, len(vocabulary))
    preprocessor = pipeline.build_preprocessor(
        tokenizer_lib.build_tokenizer(vocabulary), config.data.max_seq_length)
    datasets, means = {}, {}
    for padding in ("static", "dynamic", "bucketed"):
        config.data.padding = padding
        datasets[padding] = pipeline.classification_dataset(
            examples.train, examples.labels, preprocessor, config.data, training=True)
        means[padding] = pipeline.mean_tokens(  # one pass also fills the cache before timing
            datasets[padding].take(len(examples.train) // config.data.batch_size))
    tokens = means["static"]  # static batches: exactly one pass
    print(f"model {config.model.size}, batch {config.data.batch_size}, sequence "
          f"{config.data.max_seq_length}, {tokens:.1f} real tokens per example, "
          f"{steps} timed steps")
    print("| variant | examples/sec | real tokens/sec | ratio |")
    print("|---|---|---|---|")
    baseline = None
    for name, padding, precision, jit in VARIANTS:
        config.runtime.mixed_precision = precision
        config.runtime.jit_compile = jit
        speed = examples_per_second(config, datasets[padding], len(vocabulary),
                                    len(examples.labels), steps, args.warmup)
        baseline = baseline or speed
        print(f"| {name} | {speed:.1f} | {speed * tokens:.0f} | {speed / baseline:.2f} |",
              flush=True)


if __name__ == "__main__":
    main(sys.argv)
