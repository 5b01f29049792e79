"""Generation tokens/sec of tfllm's decoder against keras-hub's CausalLM.generate.

By default both decode the same randomly initialised 6-layer, 512-wide GPT
(the `small` size) from the same token-id prompts; with --workdir, a trained
or imported run (e.g. SmolLM2 from `tfllm import`) from its own validation
prompts. Decoding is greedy for a fixed number of new tokens (both watch for
a stop id the model cannot produce, so both produce exactly the same count
and pay for the stop check, as real use does). Each variant is warmed up
once (tracing and XLA compilation excluded), then timed over --repeats
calls; the median is reported against keras-hub's rate in the same run.

Self-speculative greedy decoding (`Decoder(..., draft_tokens=k)`) drafts k
tokens with the bfloat16 copy and checks them in one float32 pass; its row
gives the share of drafted tokens accepted (a batch keeps, each round, the
fewest any row accepts) and whether every row equals the float32 decoder's
greedy output, as it must. The "same as float32 greedy" column compares
every tfllm variant's output with the float32 XLA decoder's. (Prompts of
different lengths, as --workdir's may be, decode plainly: accept rate "-".)

Two more lines explain the batch-1 figures:
- the float32 bandwidth floor: one matrix-vector product with every weight
  matrix of the model, XLA-compiled, which is the least work a float32 step
  does at batch 1 (every weight read once), as tokens/s;
- greedy parity of the bfloat16-weights decoder: rows whose continuation
  equals the float32 decoder's, and the first token where any row parts.

    python benchmarks/generation.py [--prompt_tokens=16] [--new_tokens=64] [--repeats=5]
        [--draft_tokens=4] [--workdir=runs/smollm2] [--quick]
"""

import functools
import sys

import keras
import numpy as np
import tensorflow as tf

import tfllm
from common import median_seconds, options
from tfllm.generation.decoder import Decoder
from tfllm.generation.steps import cast_copy
from tfllm.models import gpt_backbone as gpt
from tfllm.models.sizes import GPT_SIZES


def random_model(size, vocabulary, context):
    keras.utils.set_random_seed(0)
    layers, hidden = GPT_SIZES[size]
    return gpt.build_causal_lm({
        "vocabulary_size": vocabulary, "num_layers": layers, "num_heads": max(1, hidden // 64),
        "hidden_dim": hidden, "intermediate_dim": 4 * hidden, "dropout": 0.0,
        "max_sequence_length": context})


def bandwidth_floor(model, repeats):
    """Tokens/s of one XLA-compiled matrix-vector product per weight matrix `model` reads in
    full for each token (position tables and an untied input embedding are only indexed)."""
    paths = [w.path for w in model.weights]
    untied = any(path.endswith("reverse_embeddings") for path in paths)
    matrices = [tf.reshape(w, [-1, w.shape[-1]]) for w in model.weights
                if len(w.shape) >= 2 and "position_embedding" not in w.path
                and not (untied and w.path.endswith("token_embedding/embeddings"))]

    @tf.function(jit_compile=True)
    def read_all():
        total = tf.zeros([])
        for matrix in matrices:
            total += tf.reduce_sum(tf.matmul(tf.ones([1, matrix.shape[0]]), matrix))
        return total

    megabytes = sum(int(np.prod(m.shape)) * 4 for m in matrices) / 1e6
    return 1 / median_seconds(lambda: read_all().numpy(), repeats), megabytes


def keras_hub_generate(model, prompts, width, no_stop):
    batch = len(prompts)
    padded = np.zeros((batch, width), np.int32)
    mask = np.zeros((batch, width), bool)
    for row, prompt in enumerate(prompts):
        padded[row, :len(prompt)] = prompt
        mask[row, :len(prompt)] = True
    return lambda: model.generate({"token_ids": padded, "padding_mask": mask},
                                  stop_token_ids=[no_stop])


def same_rows(reference, rows):
    """'yes' when every row of `rows` equals `reference`'s, else 'no (n of m rows)'."""
    same = sum(np.array_equal(a, b) for a, b in zip(reference, rows, strict=True))
    return "yes" if same == len(rows) else f"no ({same} of {len(rows)} rows)"


def tfllm_decoders(model, half, no_stop, context, draft_tokens):
    """The tfllm variants of the table: label -> Decoder."""
    decoders = {}
    for label, weights, jit in (("float32, XLA on", model, True),
                                ("float32, XLA off", model, False),
                                ("bfloat16 weights, XLA on", half, True)):
        decoders[f"tfllm Decoder, {label}"] = Decoder(weights, end_id=no_stop,
                                                      context_length=context, jit_compile=jit)
    label = f"tfllm speculative (bf16 draft k={draft_tokens}, f32 verify)"
    decoders[label] = Decoder(model, end_id=no_stop, context_length=context,
                              draft_tokens=draft_tokens, draft_model=half)
    return decoders


def print_batch(batch, prompts, args, keras_hub_call, decoders):
    """Times keras-hub and every decoder on `prompts`; prints their table rows and the
    bfloat16 parity line."""
    baseline = batch * args.new_tokens / median_seconds(keras_hub_call, args.repeats)
    print(f"| {batch} | keras-hub generate (XLA) | {baseline:.1f} | 1.00x | - | - |", flush=True)
    outputs = {}
    for label, decoder in decoders.items():
        function = functools.partial(decoder.generate, prompts, max_new_tokens=args.new_tokens)
        rate = batch * args.new_tokens / median_seconds(function, args.repeats)
        outputs[label] = function()
        accepted = "-" if decoder.accept_rate is None else f"{decoder.accept_rate:.2f}"
        same = same_rows(outputs["tfllm Decoder, float32, XLA on"], outputs[label])
        print(f"| {batch} | {label} | {rate:.1f} | {rate / baseline:.2f}x | {accepted} | "
              f"{same} |", flush=True)
    pairs = list(zip(outputs["tfllm Decoder, float32, XLA on"],
                     outputs["tfllm Decoder, bfloat16 weights, XLA on"], strict=True))
    same = sum(np.array_equal(a, b) for a, b in pairs)
    parts = [int(np.argmax(a != b)) for a, b in pairs if not np.array_equal(a, b)]
    print(f"batch {batch}: bfloat16 greedy output equals float32's in {same} of {batch} rows"
          + (f"; the first difference is at new token {min(parts)}" if parts else ""))


def main(argv):
    args = options(argv, {"prompt_tokens": 16, "new_tokens": 64, "repeats": 5, "workdir": "",
                          "draft_tokens": 4},
                   quick={"new_tokens": 4, "repeats": 1})
    if args.workdir:
        lm = tfllm.load(args.workdir)
        model, context = lm.model, lm.context_length
        vocabulary = model.backbone.vocabulary_size
        records, _, _ = lm.records()
        texts = [lm.prompt_text(r.text) for r in records[:8]]
        real_prompts = [ids[:args.prompt_tokens] for ids in lm.tokenize(texts)]
        name = f"{args.workdir} ({model.backbone.num_layers} x {model.backbone.hidden_dim})"
    else:
        vocabulary, context = 8192, 256
        model = random_model("tiny" if args.quick else "small", vocabulary, context)
        real_prompts = None
        name = f"random-weight GPT ({model.backbone.num_layers} x {model.backbone.hidden_dim})"
    model.compile(sampler="greedy")  # keras-hub's generate() reads the sampler from compile
    no_stop = vocabulary + 1  # an id the model cannot produce
    width = args.prompt_tokens + args.new_tokens
    print(f"{name}, vocabulary {vocabulary}, prompts of up to {args.prompt_tokens} tokens, "
          f"{args.new_tokens} new tokens, greedy, median of {args.repeats}")
    floor, megabytes = bandwidth_floor(model, args.repeats)
    print(f"float32 bandwidth floor at batch 1: {megabytes:.0f} MB of weight matrices read "
          f"per token, at most {floor:.1f} tokens/s")
    half = cast_copy(model, "bfloat16")
    print("| batch | variant | tokens/s | ratio | accept rate | same as float32 greedy |")
    print("|---|---|---|---|---|---|")
    for batch in (1, 8):
        prompts = real_prompts[:batch] if real_prompts else list(
            np.random.default_rng(batch).integers(1, vocabulary, (batch, args.prompt_tokens))
            .astype(np.int32))
        print_batch(batch, prompts, args, keras_hub_generate(model, prompts, width, no_stop),
                    tfllm_decoders(model, half, no_stop, context, args.draft_tokens))


if __name__ == "__main__":
    main(sys.argv)
