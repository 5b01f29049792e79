"""Training speed against the plain keras-hub route, with achieved GFLOP/s against a measured peak.

Two workloads, each with its baseline measured in the same process:

1. The default corpus (short utterances, 12 real tokens on average) at the
   default model and sequence length. Baseline: keras-hub's
   BertTextClassifier with its own BertTextClassifierPreprocessor
   (tokenizing in `fit`'s input pipeline, every batch padded to the
   sequence length), compiled by keras-hub and fitted with default
   settings. Against it: tfllm's training path (cached features, length
   buckets, each batch cut to its longest example) in float32 and in
   mixed bfloat16.
2. Full-length batches (every position a real token) of BERT-small,
   4 x 512, sequence 128, batch 32: keras-hub's classifier on packed
   features against tfllm's, both in mixed bfloat16.

Examples/s and real (non-padding) tokens/s are medians over --repeats
chunks of --steps steps, after warm-up. GFLOP/s counts the matmul work of
the positions actually computed (padding included): 6 x parameters in the
encoder's dense layers per token plus attention's 12 x L x hidden per token
and layer (forward and backward); the peak is a 2048^3 matmul measured
here, float32 or bfloat16 to match the run.

    python benchmarks/train_vs_keras_hub.py [--steps=20] [--repeats=3] [--quick]
"""

import statistics
import sys
import time

import keras
import keras_hub
import numpy as np
import tensorflow as tf

import tfllm  # noqa: F401  sets the Keras backend
from common import options as parse_options
from tfllm.configs import bert_classifier
from tfllm.data import examples as examples_lib
from tfllm.data import pipeline
from tfllm.data import tokenizer as tokenizer_lib
from tfllm.tasks.classification import task as classification
from tfllm.models import encoder
from tfllm.training import run


def matmul_peak(dtype, size=2048, repeats=10):
    """Median GFLOP/s of a size^3 matmul in `dtype`."""
    a = tf.random.normal((size, size), dtype=tf.float32)
    a = tf.cast(a, dtype)
    matmul = tf.function(lambda x: tf.matmul(x, x))
    matmul(a).numpy()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a).numpy()
        seconds.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(seconds) / 1e9


def flops_per_token(dims, width):
    """Training FLOPs per computed position of a BERT encoder at sequence `width`."""
    hidden, intermediate, layers = dims["hidden_dim"], dims["intermediate_dim"], dims["num_layers"]
    dense = layers * (4 * hidden * hidden + 2 * hidden * intermediate)
    attention = layers * 2 * width * hidden  # QK^T and AV, per query position
    return 3 * 2 * (dense + attention)


class ChunkTimer(keras.callbacks.Callback):
    """Seconds per chunk of `steps` batches, after `warmup` batches."""

    def __init__(self, warmup, steps):
        super().__init__()
        self.warmup, self.steps = warmup, steps
        self.seconds, self._start = [], None

    def on_train_batch_end(self, batch, logs=None):
        done = batch + 1 - self.warmup
        if done == 0:
            self._start = time.perf_counter()
        elif done > 0 and done % self.steps == 0:
            now = time.perf_counter()
            self.seconds.append(now - self._start)
            self._start = now


def timed_fit(model, dataset, warmup, steps, repeats):
    """Median seconds per `steps` training steps of `model.fit` on `dataset`."""
    timer = ChunkTimer(warmup, steps)
    model.fit(dataset, epochs=1, steps_per_epoch=warmup + steps * repeats, callbacks=[timer],
              verbose=0)
    return statistics.median(timer.seconds)


def widths(dataset, warmup, steps, repeats, full_width):
    """Mean computed width and real tokens per example of the batches fit times."""
    computed, real = [], []
    for features, _ in dataset.skip(warmup).take(steps * repeats):
        mask = features["padding_mask"].numpy()
        computed.append(mask.shape[1] if full_width is None else full_width)
        real.append(mask.sum(axis=1).mean())
    return float(np.mean(computed)), float(np.mean(real))


def row(name, batch_size, seconds, steps, width, real_tokens, dims, peak):
    examples = batch_size * steps / seconds
    gflops = examples * width * flops_per_token(dims, width) / 1e9
    return (f"| {name} | {examples:.1f} | {examples * real_tokens:.0f} | {gflops:.1f} | "
            f"{gflops / peak:.0%} |"), examples


def keras_hub_classifier(dims, vocabulary, num_labels, sequence_length, preprocessor=True):
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary), max_sequence_length=sequence_length, **dims)
    return keras_hub.models.BertTextClassifier(
        backbone, num_labels,
        preprocessor=keras_hub.models.BertTextClassifierPreprocessor(
            keras_hub.models.BertTokenizer(vocabulary, lowercase=True),
            sequence_length=sequence_length) if preprocessor else None)


def tfllm_classifier(config, vocabulary_size, num_labels):
    model, _ = classification.build(config, vocabulary_size, num_labels)
    classification.TASK.compile_model(model, config, steps_per_epoch=1000)
    return model


def default_corpus(options, peaks):
    warmup, steps, repeats = options["warmup"], options["steps"], options["repeats"]
    config = bert_classifier.get_config()
    if options["quick"]:
        config.model.size = "tiny"
    examples = examples_lib.prepare(config.data)
    vocabulary = tokenizer_lib.learn_vocabulary([r.text.lower() for r in examples.train],
                                                config.tokenizer.vocabulary_size)
    config = encoder.resolve(config, len(vocabulary))
    dims = {k: config.model.backbone[k]
            for k in ("num_layers", "num_heads", "hidden_dim", "intermediate_dim")}
    length, batch, labels = config.data.max_seq_length, config.data.batch_size, examples.labels
    print(f"\ndefault corpus: {len(examples.train)} training examples, model {config.model.size} "
          f"{dims['num_layers']}x{dims['hidden_dim']}, sequence {length}, batch {batch}")
    print("| route | examples/s | real tokens/s | GFLOP/s | of matmul peak | ratio |")
    print("|---|---|---|---|---|---|")

    index = {label: i for i, label in enumerate(labels)}
    texts = tf.data.Dataset.from_tensor_slices(
        ([r.text for r in examples.train], [index[r.label] for r in examples.train]))
    baseline_ds = texts.shuffle(10_000, seed=0).batch(batch, drop_remainder=True).repeat()
    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(0)
    model = keras_hub_classifier(dims, vocabulary, len(labels), length)
    seconds = timed_fit(model, baseline_ds, warmup, steps, repeats)
    preprocessor = pipeline.build_preprocessor(tokenizer_lib.build_tokenizer(vocabulary), length)
    reference = pipeline.classification_dataset(examples.train, labels, preprocessor,
                                                config.data, training=False)
    real = pipeline.mean_tokens(reference)
    line, baseline = row("keras-hub BertTextClassifier + its preprocessor, float32", batch,
                         seconds, steps, length, real, dims, peaks["float32"])
    print(line + " 1.00x |", flush=True)

    for padding, precision in (("static", "float32"), ("bucketed", "float32"),
                               ("bucketed", "mixed_bfloat16")):
        config.data.padding = padding
        config.runtime.mixed_precision = precision
        stream = pipeline.classification_dataset(examples.train, labels, preprocessor,
                                                 config.data, training=True)
        width, _ = widths(stream, warmup, steps, repeats, None)
        with run.runtime(config):
            model = tfllm_classifier(config, len(vocabulary), len(labels))
            seconds = timed_fit(model, stream, warmup, steps, repeats)
        name = f"tfllm, {padding}, {precision}"
        line, speed = row(name, batch, seconds, steps, width, real,
                          dims, peaks["bfloat16" if "bfloat16" in precision else "float32"])
        print(f"{line} {speed / baseline:.2f}x |", flush=True)


def full_length(options, peaks):
    warmup, steps, repeats = options["warmup"], options["steps"], options["repeats"]
    config = bert_classifier.get_config()
    config.model.size = "tiny" if options["quick"] else "small"
    config.data.max_seq_length = length = 128
    config.data.batch_size = batch = 32
    config.runtime.mixed_precision = "mixed_bfloat16"
    vocabulary_size = 8000
    config = encoder.resolve(config, vocabulary_size)
    dims = {k: config.model.backbone[k]
            for k in ("num_layers", "num_heads", "hidden_dim", "intermediate_dim")}
    print(f"\nfull-length batches: model {config.model.size} {dims['num_layers']}x"
          f"{dims['hidden_dim']}, sequence {length}, batch {batch}, mixed bfloat16")
    print("| route | examples/s | real tokens/s | GFLOP/s | of bf16 matmul peak | ratio |")
    print("|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    n = 8 * batch
    features = {"token_ids": rng.integers(5, vocabulary_size, (n, length)).astype(np.int32),
                "segment_ids": np.zeros((n, length), np.int32),
                "padding_mask": np.ones((n, length), bool)}
    labels = rng.integers(0, 4, n)
    dataset = tf.data.Dataset.from_tensor_slices(
        (features, np.eye(4, dtype=np.float32)[labels])).batch(batch).repeat()
    sparse = dataset.map(lambda x, y: (x, tf.argmax(y, -1)))
    baseline = None
    for name, make, data in (
            ("keras-hub BertTextClassifier", lambda: keras_hub_classifier(
                dims, ["[PAD]"] * vocabulary_size, 4, length, preprocessor=False), sparse),
            ("tfllm", lambda: tfllm_classifier(config, vocabulary_size, 4), dataset)):
        with run.runtime(config):
            seconds = timed_fit(make(), data, warmup, steps, repeats)
        line, speed = row(name, batch, seconds, steps, length, length, dims, peaks["bfloat16"])
        baseline = baseline or speed
        print(f"{line} {speed / baseline:.2f}x |", flush=True)


def main(argv):
    args = parse_options(argv, {"steps": 20, "repeats": 3, "warmup": 5},
                         quick={"steps": 2, "repeats": 1, "warmup": 1})
    options = vars(args)
    size = 256 if args.quick else 2048
    peaks = {"float32": matmul_peak(tf.float32, size), "bfloat16": matmul_peak(tf.bfloat16, size)}
    print(f"matmul peak ({size}^3): float32 {peaks['float32']:.0f} GFLOP/s, "
          f"bfloat16 {peaks['bfloat16']:.0f} GFLOP/s")
    default_corpus(options, peaks)
    full_length(options, peaks)


if __name__ == "__main__":
    main(sys.argv)
