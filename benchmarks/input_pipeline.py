"""The input pipeline alone, in real tokens/s, against what the trainer consumes.

On the default corpus and config, in one process:
1. raw text -> features: cleaning, WordPiece tokenization and packing of the
   training set, repeated --copies times, in one pass of `cached_features`
   (what the first epoch pays; later epochs read the cache);
2. the training stream from the cache: shuffle, length buckets, trimming and
   prefetch (what every later step reads);
3. the trainer: the default model (`runtime.mixed_precision=auto`) fitted on
   batches taken from that stream and held in memory, so it never waits.
Rates count real (non-padding) tokens. Each pipeline rate prints its ratio to
the trainer's: the pipeline keeps the trainer fed while the ratio is above 1.

    python benchmarks/input_pipeline.py [--copies=20] [--batches=400] [--steps=30] [--quick]
"""

import sys
import time

import keras
import numpy as np

import tfllm  # noqa: F401  sets the Keras backend
from common import median_seconds, options
from tfllm.configs import bert_classifier
from tfllm.data import examples as examples_lib
from tfllm.data import pipeline
from tfllm.data import tokenizer as tokenizer_lib
from tfllm.tasks.classification import task as classification
from tfllm.models import encoder
from tfllm.training import run


def real_tokens(batches):
    """Real tokens and examples in an iterable of (features, labels) batches."""
    tokens = examples = 0
    for features, _ in batches:
        mask = features["padding_mask"].numpy()
        tokens += int(mask.sum())
        examples += mask.shape[0]
    return tokens, examples


def tokenize_rate(records, labels, preprocessor, config, repeats):
    """Real tokens/s of one uncached pass from raw text to features (median of `repeats`)."""
    counted = {}

    def one_pass():
        features = pipeline.cached_features(records, labels, preprocessor, config.data)
        counted["tokens"], _ = real_tokens(features.batch(1024))

    seconds = median_seconds(one_pass, repeats)
    return counted["tokens"] / seconds


def stream_rate(cached, config, batches, repeats):
    """Real tokens/s of `batches` training batches read from the filled cache."""
    stream = pipeline.batches(cached, config.data, training=True)
    counted = {}

    def read():
        counted["tokens"], _ = real_tokens(stream.take(batches))

    seconds = median_seconds(read, repeats)
    return counted["tokens"] / seconds


def trainer_rate(cached, config, vocabulary_size, num_labels, steps, warmup=5):
    """Real tokens/s the default model trains at, on stream batches held in memory."""
    stream = pipeline.batches(cached, config.data, training=True)
    held = stream.take(warmup + steps).cache()
    real_tokens(held)  # fill the cache before timing
    tokens, _ = real_tokens(held.skip(warmup))
    with run.runtime(config):
        model, _ = classification.build(config, vocabulary_size, num_labels)
        classification.TASK.compile_model(model, config, steps_per_epoch=warmup + steps)
        ends = []
        timer = keras.callbacks.LambdaCallback(
            on_train_batch_end=lambda batch, logs: ends.append(time.perf_counter()))
        model.fit(held, epochs=1, verbose=0, callbacks=[timer], shuffle=False)
    return tokens / (ends[-1] - ends[warmup - 1])


def main(argv):
    args = options(argv, {"copies": 20, "batches": 400, "steps": 30, "repeats": 3},
                   quick={"copies": 1, "batches": 10, "steps": 3, "repeats": 1})
    config = bert_classifier.get_config()
    if args.quick:
        config.model.size = "tiny"
    examples = examples_lib.prepare(config.data)
    vocabulary = tokenizer_lib.learn_vocabulary([r.text.lower() for r in examples.train],
                                                config.tokenizer.vocabulary_size)
    config = encoder.resolve(config, len(vocabulary))
    preprocessor = pipeline.build_preprocessor(tokenizer_lib.build_tokenizer(vocabulary),
                                               config.data.max_seq_length)
    records = examples.train * args.copies
    cached = pipeline.cached_features(examples.train, examples.labels, preprocessor, config.data)
    real_tokens(cached.batch(1024))  # fill the cache
    mean = np.mean([len(r.text.split()) for r in examples.train])
    print(f"default corpus: {len(examples.train)} training examples ({mean:.1f} words each), "
          f"model {config.model.size}, batch {config.data.batch_size}, "
          f"{config.data.padding} padding, {config.runtime.mixed_precision}")

    trainer = trainer_rate(cached, config, len(vocabulary), len(examples.labels), args.steps)
    rows = [
        (f"raw text -> features, {len(records)} examples (first epoch)",
         tokenize_rate(records, examples.labels, preprocessor, config, args.repeats)),
        (f"training stream from the cache, {args.batches} batches (later epochs)",
         stream_rate(cached, config, args.batches, args.repeats)),
    ]
    print("| stage | real tokens/s | ratio to the trainer |")
    print("|---|---|---|")
    print(f"| trainer ({config.model.size}, {args.steps} steps) | {trainer:.0f} | 1.0x |")
    for name, rate in rows:
        print(f"| {name} | {rate:.0f} | {rate / trainer:.1f}x |", flush=True)


if __name__ == "__main__":
    main(sys.argv)
