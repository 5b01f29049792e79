"""Training throughput of the language model with 'documents' packing against 'stream'.

Both variants train the default language model (configs/gpt_lm.py: the tiny 2x128 GPT,
blocks of 128 tokens, batch 8, a learned 2048-token BPE) on the same packed blocks of the
default corpus (packed once), from the same initial weights, through the task's own
build and compile. 'stream' (the baseline: how every run trained before data.packing) feeds
token_ids and padding_mask; 'documents' adds segment_ids and positions, so each layer
attends through a block-diagonal causal mask. The variants alternate, --repeats times
each, and each row prints the median tokens/s (every token of a packed block is real)
and the median (and range) of its ratio to the 'stream' run just before it, under the
same XLA setting: paired, so a slower moment of a shared machine hits both. Tokens per
CPU second (all threads) are printed too: on a machine other work shares, they vary less
than wall-clock rates.

    python benchmarks/packing.py [--steps=200] [--warmup=5] [--repeats=7] [--size=tiny]
        [--block_length=128] [--xla=false] [--quick]
"""

import dataclasses
import statistics
import sys
import tempfile
import time

import keras

import tfllm  # noqa: F401  sets the Keras backend
from common import options
from tfllm.configs import gpt_lm
from tfllm.data import lm_pipeline
from tfllm.tasks.language_model import task as language_model
from tfllm.training import run
from tfllm.workdir import Paths

VARIANTS = [("stream", False), ("documents", False), ("stream", True), ("documents", True)]


class StepTimer(keras.callbacks.Callback):
    """Wall and CPU seconds (all threads) for the steps after `skip` (tracing and warm-up
    excluded)."""

    def __init__(self, skip):
        super().__init__()
        self.skip, self.start, self.seconds = skip, None, None

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 == self.skip:
            self.start = time.perf_counter(), time.process_time()

    def on_train_end(self, logs=None):
        self.seconds = (time.perf_counter() - self.start[0], time.process_time() - self.start[1])


def packed_training_blocks(prepared):
    """The training set's packed blocks (segment_ids and positions included: 'stream'
    batches leave them out, and the rest of a block is the same in both)."""
    data = prepared.config.data
    tokenize = lm_pipeline.tokenize_fn(prepared.tokenizer, data.cleaning)
    blocks, _ = lm_pipeline.packed_blocks(
        prepared.data.train, tokenize, prepared.tokenizer.end_token_id, prepared.data.pairs,
        data.prompt_template, data.max_seq_length, packing="documents")
    return blocks


def tokens_per_second(prepared, blocks, packing, jit_compile, steps, warmup):
    """(tokens per wall second, per CPU second) of `steps` training steps after `warmup`,
    with `packing` and XLA or not."""
    config = prepared.config.copy_and_resolve_references()
    config.data.packing = packing
    config.runtime.jit_compile = jit_compile
    prepared = dataclasses.replace(prepared, config=config)
    data = config.data
    batches = lm_pipeline.lm_dataset(blocks, data.batch_size, training=True,
                                     shuffle_buffer=data.shuffle_buffer, seed=config.seed,
                                     packing=packing)
    task = language_model.TASK
    with run.runtime(config):
        model, _ = task.build_model(prepared)
        task.compile_model(model, config, steps + warmup)
        timer = StepTimer(warmup)
        model.fit(batches, epochs=1, steps_per_epoch=steps + warmup, callbacks=[timer],
                  verbose=0, shuffle=False)
    keras.backend.clear_session()
    tokens = steps * data.batch_size * data.max_seq_length
    return tokens / timer.seconds[0], tokens / timer.seconds[1]


def print_table(speeds):
    """The Markdown table of `speeds` ((packing, XLA) -> [(wall rate, CPU rate)] per repeat):
    medians, and each run's ratio to the 'stream' run of the same repeat."""
    print("| packing | XLA | tokens/sec | ratio to stream (range) | tokens/CPU-sec | ratio |")
    print("|---|---|---|---|---|---|")
    for (packing, jit), runs in speeds.items():
        cells = []
        for clock in (0, 1):  # wall, CPU
            ratios = [run[clock] / stream[clock]
                      for run, stream in zip(runs, speeds["stream", jit])]
            cells.append(f"{statistics.median(run[clock] for run in runs):.0f} | "
                         f"{statistics.median(ratios):.2f}")
            if clock == 0:
                cells[-1] += f" ({min(ratios):.2f}-{max(ratios):.2f})"
        print(f"| {packing} | {'yes' if jit else 'no'} | {' | '.join(cells)} |", flush=True)


def main(argv):
    args = options(argv, {"steps": 200, "warmup": 5, "repeats": 7, "size": "tiny",
                          "block_length": 128, "xla": False},
                   quick={"steps": 2, "warmup": 1, "repeats": 1, "block_length": 32})
    config = gpt_lm.get_config("smoke" if args.quick else "")  # smoke: 1x16
    config.model.size = args.size
    config.data.max_seq_length = args.block_length
    with tempfile.TemporaryDirectory() as directory:
        paths = Paths(directory)
        paths.make_dirs()
        prepared = language_model.TASK.prepare(config, paths)
    blocks = packed_training_blocks(prepared)
    variants = [(packing, jit) for packing, jit in VARIANTS if args.xla or not jit]
    backbone = prepared.config.model.backbone
    print(f"model {backbone.num_layers}x{backbone.hidden_dim}, blocks of "
          f"{config.data.max_seq_length}, batch {config.data.batch_size}, "
          f"{len(blocks['token_ids'])} training blocks, {args.steps} timed steps, median of "
          f"{args.repeats}")
    speeds = {variant: [] for variant in variants}
    for _ in range(args.repeats):  # alternating, so a slower moment hits both variants
        for packing, jit in variants:
            speeds[packing, jit].append(
                tokens_per_second(prepared, blocks, packing, jit, args.steps, args.warmup))
    print_table(speeds)

if __name__ == "__main__":
    main(sys.argv)
