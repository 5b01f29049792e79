"""Generation tokens/sec of tfllm's decoder against keras-hub's GPT2CausalLM.generate.

Both decode the same randomly initialised 6-layer, 512-wide GPT (the `small`
size) from the same token-id prompts, greedily, for a fixed number of new
tokens (both watch for a stop id the model cannot produce, so both
produce exactly the same count and pay for the stop check, as real use does). Each variant
is warmed up once (tracing and XLA compilation excluded), then timed over
`--repeats` calls; the median is reported. keras-hub is the baseline: each
row prints its ratio to it.

    python benchmarks/generation.py [--prompt_tokens=16] [--new_tokens=64] [--repeats=5]
"""

import argparse
import statistics
import time

import keras
import numpy as np

import tfllm  # noqa: F401  sets the Keras backend
from tfllm.generation import Decoder
from tfllm.models import gpt
from tfllm.models.sizes import GPT_SIZES

VOCABULARY = 8192
CONTEXT = 256


def build_model():
    keras.utils.set_random_seed(0)
    layers, hidden = GPT_SIZES["small"]
    model = gpt.build_causal_lm({
        "vocabulary_size": VOCABULARY, "num_layers": layers, "num_heads": hidden // 64,
        "hidden_dim": hidden, "intermediate_dim": 4 * hidden, "dropout": 0.0,
        "max_sequence_length": CONTEXT})
    model.compile(sampler="greedy")  # keras-hub's generate() reads the sampler from compile
    return model


def median_seconds(function, repeats):
    function()  # warm-up: tracing and compilation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompt_tokens", type=int, default=16)
    parser.add_argument("--new_tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    model = build_model()
    width = args.prompt_tokens + args.new_tokens
    no_stop = VOCABULARY + 1  # an id the model cannot produce
    print(f"GPT small (6 x 512), vocabulary {VOCABULARY}, prompt {args.prompt_tokens} tokens, "
          f"{args.new_tokens} new tokens, greedy, median of {args.repeats}")
    print(f"{'batch':>5}  {'variant':<34} {'tokens/s':>9} {'ratio':>6}")
    for batch in (1, 8):
        prompts = np.random.default_rng(batch).integers(
            1, VOCABULARY, size=(batch, args.prompt_tokens)).astype(np.int32)
        padded = np.zeros((batch, width), np.int32)
        padded[:, :args.prompt_tokens] = prompts
        mask = np.zeros((batch, width), bool)
        mask[:, :args.prompt_tokens] = True

        def keras_hub_generate():
            model.generate({"token_ids": padded, "padding_mask": mask}, stop_token_ids=[no_stop])

        variants = [("keras-hub GPT2CausalLM.generate", keras_hub_generate)]
        for jit in (True, False):
            decoder = Decoder(model, end_id=no_stop, context_length=CONTEXT, jit_compile=jit)
            variants.append((f"tfllm Decoder (XLA {'on' if jit else 'off'})",
                             lambda d=decoder: d.generate(list(prompts),
                                                          max_new_tokens=args.new_tokens)))
        baseline = None
        for name, function in variants:
            rate = batch * args.new_tokens / median_seconds(function, args.repeats)
            baseline = baseline or rate
            print(f"{batch:>5}  {name:<34} {rate:>9.1f} {rate / baseline:>5.2f}x", flush=True)


if __name__ == "__main__":
    main()
