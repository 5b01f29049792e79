"""Latency of an exported language model against generating in process.

    python benchmarks/lm_serving.py --workdir=runs/gpt_lm [--repeats=30] [--new_tokens=32]
        [--quick]

The run is exported with `tfllm.export` and loaded back with
`tf.saved_model.load`. Its `generate` signature (greedy, temperature 0;
tokenization, decoding and detokenization in one graph without XLA) is timed
at batch 1 and 8 against `LanguageModel.generate` (the same prompts, the
XLA-compiled decoder `tfllm generate` uses, tokenizing in a tf.function). Every
prompt asks for `new_tokens` tokens; the p50 and p99 over `repeats` calls
follow warm-up calls. Both stop rows at end-of-text, so both do the same work.
"""

import os
import sys
import tempfile

import tensorflow as tf

import tfllm
from common import options, workdir_or_smoke_run
from serving import percentiles  # benchmarks/serving.py, beside this script
from tfllm.configs import gpt_lm

PROMPTS = ["What is AI?", "Do you like music?", "Tell me a joke", "Who are you?",
           "What is your favourite book?", "Hello", "Can you move?", "What language is this?"]


def main(argv):
    args = options(argv, {"workdir": "", "repeats": 30, "new_tokens": 32},
                   quick={"repeats": 1, "new_tokens": 2})
    repeats, new_tokens = args.repeats, args.new_tokens
    with tempfile.TemporaryDirectory() as tmp:
        workdir = workdir_or_smoke_run(args, gpt_lm.get_config, tmp)
        lm = tfllm.load(workdir)
        generate = tf.saved_model.load(tfllm.export(workdir, os.path.join(tmp, "e"))).signatures[
            "generate"]
        print(f"{workdir}: up to {new_tokens} new tokens, greedy, p50 / p99 ms over {repeats}")
        print("| batch | exported `generate` | in process (XLA) | exported / in process (p50) |")
        print("|---|---|---|---|")
        for batch in (1, 8):
            prompts = PROMPTS[:batch]

            def served(prompts=prompts):
                generate(prompt=tf.constant(prompts), max_new_tokens=tf.constant(new_tokens),
                         temperature=tf.constant(0.0), top_k=tf.constant(0),
                         top_p=tf.constant(1.0), seed=tf.constant(0))

            def in_process(prompts=prompts):
                lm.generate(prompts, max_new_tokens=new_tokens, sampler="greedy")

            s50, s99 = percentiles(served, repeats)
            p50, p99 = percentiles(in_process, repeats)
            print(f"| {batch} | {s50:.1f} / {s99:.1f} | {p50:.1f} / {p99:.1f} | {s50 / p50:.2f}x |",
                  flush=True)


if __name__ == "__main__":
    main(sys.argv)
