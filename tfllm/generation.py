"""Text generation from keras-hub causal LMs (GPT-2, Llama) over a key/value cache.

keras-hub supplies the cached forward step (`CausalLM.call_with_cache`) and
the samplers; tfllm adds what serving and the CLI need around them:
- one compiled function per sampling setting, traced once for any batch size
  and length (a repeated shape reuses the compiled program);
- a cache seeded with the prompt prefix only (keras-hub's `generate_step`
  runs the whole padded length, logits included);
- a seed that makes random sampling reproducible call after call;
- ragged prompts in one batch, each row cut at its own end-of-text;
- argument checks that name the bad argument;
- self-speculative greedy decoding (`Decoder(..., draft_tokens=k)`): a cheap
  draft (by default a bfloat16 copy of the model) proposes k tokens, and one
  float32 cached pass over k + 1 positions keeps those float32 greedy would
  have chosen, so the text is float32's, at fewer float32 weight reads.
Each new token runs one cached step over a fixed-size cache, so its cost does
not grow with the text already generated.
"""

import dataclasses

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from tfllm.errors import TfllmError

SAMPLERS = ("greedy", "top_k", "top_p", "random", "beam")
WEIGHT_DTYPES = ("float32", "bfloat16")  # see `cast_copy`
# The SamplingOptions fields each sampler reads.
USES = {
    "greedy": (),
    "top_k": ("top_k", "temperature"),
    "top_p": ("top_p", "temperature"),
    "random": ("temperature",),
    "beam": ("num_beams",),
}


class GenerationError(TfllmError, ValueError):
    """A generation argument no decoding could use; the message names it."""


@dataclasses.dataclass(frozen=True)
class SamplingOptions:
    """How the next token is chosen.

    Args:
        sampler: 'greedy', 'top_k', 'top_p' (nucleus), 'random' or 'beam'.
        temperature: divides the logits before sampling ('top_k', 'top_p', 'random').
        top_k: candidates kept by 'top_k'.
        top_p: probability mass kept by 'top_p', in (0, 1].
        num_beams: beams of 'beam'.
    """

    sampler: str = "greedy"
    temperature: float = 1.0
    top_k: int = 40
    top_p: float = 0.9
    num_beams: int = 4

    def check(self):
        """Raises GenerationError naming the first argument out of range."""
        if self.sampler not in SAMPLERS:
            raise GenerationError(f"sampler: unknown sampler {self.sampler!r}; "
                                  f"expected one of {SAMPLERS}")
        if not self.temperature > 0:
            raise GenerationError(f"temperature: got {self.temperature}, expected > 0")
        if not (isinstance(self.top_k, int) and self.top_k >= 1):
            raise GenerationError(f"top_k: got {self.top_k!r}, expected an integer >= 1")
        if not 0 < self.top_p <= 1:
            raise GenerationError(f"top_p: got {self.top_p}, expected a value in (0, 1]")
        if not (isinstance(self.num_beams, int) and self.num_beams >= 1):
            raise GenerationError(f"num_beams: got {self.num_beams!r}, expected an integer >= 1")
        return self

    def key(self):
        """The fields that change the compiled program (unused ones are left out)."""
        return (self.sampler,) + tuple(getattr(self, name) for name in USES[self.sampler])


def build_sampler(options):
    """Returns the keras-hub sampler for `options` (seeded later, per call)."""
    samplers = keras_hub.samplers
    if options.sampler == "greedy":
        return samplers.GreedySampler()
    if options.sampler == "top_k":
        return samplers.TopKSampler(k=options.top_k, seed=0, temperature=options.temperature)
    if options.sampler == "top_p":
        return samplers.TopPSampler(p=options.top_p, seed=0, temperature=options.temperature)
    if options.sampler == "random":
        return samplers.RandomSampler(seed=0, temperature=options.temperature)
    return samplers.BeamSampler(num_beams=options.num_beams)


def seed_cache(causal_lm, prefix_ids, width):
    """Runs the shared prompt prefix through the causal LM once; returns the filled cache.

    keras-hub's `generate_step` seeds its cache with a forward pass over
    every position of the padded batch, logits included; only the prefix
    that all prompts share by position (the shortest prompt's length) is
    needed, and no logits, because the first decoding step recomputes the
    prefix's last position. The cache keeps the full `width`. Works for
    GPT-2 (learned positions) and Llama (rotary positions, grouped key/value
    heads) backbones alike.
    """
    backbone = causal_lm.backbone
    batch = tf.shape(prefix_ids)[0]
    query_heads = getattr(backbone, "num_query_heads", None) or backbone.num_heads
    key_value_heads = getattr(backbone, "num_key_value_heads", None) or query_heads
    cache = tf.zeros([batch, backbone.num_layers, 2, width, key_value_heads,
                      backbone.hidden_dim // query_heads], dtype=causal_lm.compute_dtype)
    x = backbone.token_embedding(prefix_ids)
    if hasattr(backbone, "position_embedding"):
        x = backbone.embeddings_add((x, backbone.position_embedding(x, start_index=0)))
    caches = []
    for i, layer in enumerate(backbone.transformer_layers):
        x, layer_cache = layer(x, self_attention_cache=cache[:, i, ...],
                               self_attention_cache_update_index=0)
        caches.append(layer_cache)
    return tf.stack(caches, axis=1)


def step_logits(causal_lm, token_ids, cache, index):
    """Logits for position `index` from the token before it; returns (logits, hidden, cache)."""
    # A static slice size (1), or XLA sees a dynamic shape and slows down.
    token = tf.slice(token_ids, [0, index - 1], [tf.shape(token_ids)[0], 1])
    logits, hidden, cache = causal_lm.call_with_cache(token, cache, index - 1)
    return tf.squeeze(logits, 1), tf.squeeze(hidden, 1), cache


def cast_copy(causal_lm, dtype):
    """A copy of a keras-hub causal LM whose weights are stored and computed in `dtype`.

    Decoding one row reads every weight once per new token, so at batch 1 it is
    bound by memory bandwidth, not arithmetic: bfloat16 weights halve the bytes
    read and nearly double the speed of a real-size model (BENCHMARKS.md).
    Rounding the weights moves the logits slightly, so a greedy continuation
    can part from the float32 model's where two tokens were nearly tied.
    """
    config = causal_lm.backbone.get_config()
    config["dtype"] = dtype
    backbone = type(causal_lm.backbone).from_config(config)
    for target, source in zip(backbone.weights, causal_lm.backbone.weights, strict=True):
        target.assign(tf.cast(source, target.dtype))
    return type(causal_lm)(backbone=backbone, preprocessor=None)


def pad_id_for(end_id):
    """An id for unwritten positions that is not the stop id (keras-hub's sampler
    stops once every row holds a stop id past its prompt)."""
    return 1 if end_id == 0 else 0


def greedy_ids(logits):
    """Greedy ids over the last axis, computed as keras-hub's GreedySampler does (argmax
    of the float32 softmax), so that ties resolve exactly as on the plain greedy path."""
    probabilities = keras.activations.softmax(tf.cast(logits, tf.float32))
    return tf.cast(tf.argmax(probabilities, axis=-1), tf.int32)


def greedy_step(causal_lm, tokens, cache, index):
    """Writes the greedy token for position `index` (one cached step); returns (tokens, cache)."""
    logits, _, cache = step_logits(causal_lm, tokens, cache, index)
    return keras.ops.slice_update(tokens, [0, index], greedy_ids(logits)[:, None]), cache


def finished_rows(tokens, start, index, end_id):
    """True for each row holding `end_id` among its new positions start .. index - 1."""
    positions = tf.range(tf.shape(tokens)[1])
    new = (positions >= start) & (positions < index)
    return tf.reduce_any((tokens == end_id) & new[None], axis=1)


def draft_round(draft, tokens, cache, index, count, caught_up):
    """Writes `count` greedy draft tokens at positions index .. index + count - 1.

    The draft cache holds every position before index - 1 when `caught_up`,
    else only those before index - 2 (after a round that accepted every
    draft, the draft has not run its own last one): the draft then runs one
    known token more, whose prediction is dropped. One token per call, in a
    loop: a two-token call costs nearly two one-token calls in bfloat16, and a
    `tf.cond` between the two cases about one more round of drafting (XLA,
    measured). Returns (tokens, cache).
    """
    batch = tf.shape(tokens)[0]

    def body(position, tokens, cache):
        token = tf.slice(tokens, [0, position], [batch, 1])
        logits, _, cache = draft.call_with_cache(token, cache, position)
        known = tf.slice(tokens, [0, position + 1], [batch, 1])
        guess = tf.where(position + 1 < index, known, greedy_ids(logits))
        return position + 1, keras.ops.slice_update(tokens, [0, position + 1], guess), cache

    first = index - 2 + tf.cast(caught_up, tf.int32)
    _, tokens, cache = tf.while_loop(lambda position, *_: position < index + count - 1, body,
                                     (first, tokens, cache))
    return tokens, cache


def verify_round(target, drafted, cache, index, count, finished, pad_id):
    """One cached pass of `target` over positions index - 1 .. index + count - 1 of `drafted`.

    Its greedy ids are the target's choices for positions index .. index + count
    given the drafts before each. The drafts are accepted up to the first
    position where any unfinished row disagrees (`accepted`, 0 .. count); the
    target's own ids fill positions index .. index + accepted (its correction
    at the first disagreement, or the bonus token after the last draft), and
    the rest are `pad_id`. Returns (ids [batch, count + 1], cache, accepted).
    """
    window = tf.slice(drafted, [0, index - 1], [tf.shape(drafted)[0], count + 1])
    logits, _, cache = target.call_with_cache(window, cache, index - 1)
    chosen = greedy_ids(logits)
    agree = tf.cast(tf.equal(window[:, 1:], chosen[:, :-1]), tf.int32)
    leading = tf.reduce_sum(tf.math.cumprod(agree, axis=1), axis=1)
    accepted = tf.reduce_min(tf.where(finished, count, leading))
    keep = tf.range(count + 1) <= accepted
    return tf.where(keep[None], chosen, pad_id), cache, accepted


def speculative_greedy(target, draft, prefix_ids, token_ids, limit, count, end_id, pad_id):
    """Greedy decoding of `target` with `count` tokens drafted by `draft` per target pass.

    `prefix_ids` is the prompt (one length for all rows) and `token_ids` the
    prompt padded to width + 1, where width >= `limit` is the cache size.
    Rounds run while their positions fit the width (the token after the last
    draft may land on the extra column); plain target steps finish the text
    up to `limit`. Stops early once every row has generated `end_id`.
    Positions past each row's first end id or `limit` may hold anything (the
    caller cuts them).

    Invariant at each round's `index` (the first unknown position): the
    target cache holds positions < index - 1, the draft cache < index - 1
    (`caught_up`) or, after a round that accepted every draft, < index - 2.
    Returns (token ids, tokens drafted, tokens accepted).
    """
    width = tf.shape(token_ids)[1] - 1
    start = tf.shape(prefix_ids)[1]
    target_cache = seed_cache(target, prefix_ids, width)
    draft_cache = seed_cache(draft, prefix_ids, width)
    tokens = token_ids

    def going(tokens, index):
        return (index < limit) & ~tf.reduce_all(finished_rows(tokens, start, index, end_id))

    def round_body(tokens, target_cache, draft_cache, caught_up, index, drafted, accepted):
        proposal, draft_cache = draft_round(draft, tokens, draft_cache, index, count, caught_up)
        finished = finished_rows(tokens, start, index, end_id)
        new, target_cache, kept = verify_round(target, proposal, target_cache, index, count,
                                               finished, pad_id)
        tokens = keras.ops.slice_update(tokens, [0, index], new)
        return (tokens, target_cache, draft_cache, kept < count, index + kept + 1,
                drafted + count, accepted + kept)

    def round_fits(tokens, target_cache, draft_cache, caught_up, index, drafted, accepted):
        return (index + count <= width) & going(tokens, index)

    tokens, target_cache, _, _, index, drafted, accepted = tf.while_loop(
        round_fits, round_body, (tokens, target_cache, draft_cache, tf.constant(True),
                                 start, tf.constant(0), tf.constant(0)))

    def step_body(tokens, cache, index):
        return greedy_step(target, tokens, cache, index) + (index + 1,)

    tokens, _, _ = tf.while_loop(lambda tokens, cache, index: going(tokens, index), step_body,
                                 (tokens, target_cache, index))
    return tokens, drafted, accepted


class Decoder:
    """Generates token ids from a causal LM with a compiled, cached decoding loop.

    Args:
        causal_lm: a keras-hub GPT2CausalLM or LlamaCausalLM (its `call_with_cache`
            runs each step).
        end_id: the end-of-text id; a row stops once it generates it.
        context_length: the most positions the model has (prompt + new tokens).
        jit_compile: XLA-compile the loop.
        start_id: a token put before every prompt (as every text began in
            training), or None. It is not the caller's: lengths, limits and
            messages count the prompt without it.
        draft_tokens: 0, or greedy batches of one prompt length decode
            speculatively: `draft_model` proposes this many tokens, then one
            cached pass of `causal_lm` over them keeps the longest run its own
            greedy choice agrees with, plus its token after that run. The
            output is `causal_lm`'s greedy output; the draft sets only the
            speed. (That pass runs k + 1 positions at once, so its float32
            sums run in another order than one-token steps: logits move by
            float32 rounding, about 1e-6 on a 6 x 512 GPT, as between XLA on
            and off; only a tie that close between the top two tokens could
            resolve otherwise.) Other samplers and ragged batches use the
            plain loop. Measured on 2 CPU cores: 1.4-1.5x the float32 loop at
            batch 1 for k = 2..6 (k = 4 in the benchmark), but 0.6-0.7x at
            batch 8, where a round keeps the fewest tokens any row accepts.
        draft_model: the model that drafts; default: a bfloat16 copy of
            `causal_lm` (`cast_copy`), made on first use. It must share the
            vocabulary.

    After each `generate` call, `drafted` and `accepted` count the draft tokens
    proposed and kept (per batch: a round keeps the fewest any unfinished row
    agrees with); both are 0 when it did not decode speculatively.
    """

    def __init__(self, causal_lm, end_id, context_length, jit_compile=True, start_id=None,
                 draft_tokens=0, draft_model=None):
        if not (isinstance(draft_tokens, int) and draft_tokens >= 0):
            raise GenerationError(f"draft_tokens: got {draft_tokens!r}, expected an integer "
                                  ">= 0 (0 = no speculative decoding)")
        if draft_model is not None and (draft_model.backbone.vocabulary_size
                                        != causal_lm.backbone.vocabulary_size):
            raise GenerationError(
                f"draft_model: its vocabulary has {draft_model.backbone.vocabulary_size} ids, "
                f"the model's {causal_lm.backbone.vocabulary_size}; expected the same")
        self.causal_lm = causal_lm
        self.end_id = int(end_id)
        self.pad_id = pad_id_for(self.end_id)
        self.start = [] if start_id is None else [int(start_id)]
        self.context_length = int(context_length)
        self.jit_compile = jit_compile
        self.draft_tokens = draft_tokens
        self.draft_model = draft_model
        self.drafted = self.accepted = 0  # of the last generate call
        self.traces = 0  # how often a decoding function was traced (tests read it)
        self._compiled = {}

    @property
    def accept_rate(self):
        """Accepted / drafted tokens of the last `generate` call; None if none were drafted."""
        return self.accepted / self.drafted if self.drafted else None

    def _function(self, options):
        key = options.key()
        if key not in self._compiled:
            sampler = build_sampler(options)
            causal_lm, end_id = self.causal_lm, self.end_id

            def next_token_logits(prompt, cache, index):
                return step_logits(causal_lm, prompt, cache, index)

            def decode(prefix_ids, token_ids, padding_mask):
                self.traces += 1
                cache = seed_cache(causal_lm, prefix_ids, tf.shape(token_ids)[1])
                return sampler(next=next_token_logits, prompt=token_ids, cache=cache,
                               index=tf.shape(prefix_ids)[1], mask=padding_mask,
                               stop_token_ids=[end_id], model=causal_lm)

            spec = [tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None], tf.int32),
                    tf.TensorSpec([None, None], tf.bool)]
            self._compiled[key] = (sampler, tf.function(
                decode, input_signature=spec, jit_compile=self.jit_compile))
        return self._compiled[key]

    def _speculative_function(self):
        """The compiled `speculative_greedy` loop (drafting `draft_tokens` per round)."""
        key = ("speculative", self.draft_tokens)
        if key not in self._compiled:
            if self.draft_model is None:
                self.draft_model = cast_copy(self.causal_lm, "bfloat16")
            target, draft, count = self.causal_lm, self.draft_model, self.draft_tokens

            def decode(prefix_ids, token_ids, limit):
                self.traces += 1
                return speculative_greedy(target, draft, prefix_ids, token_ids, limit, count,
                                          self.end_id, self.pad_id)

            spec = [tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None], tf.int32),
                    tf.TensorSpec([], tf.int32)]
            self._compiled[key] = tf.function(decode, input_signature=spec,
                                              jit_compile=self.jit_compile)
        return self._compiled[key]

    def generate(self, prompts, max_new_tokens=None, max_length=None, options=None, seed=None):
        """Continues each prompt; returns the new ids of each row, up to (not incl.) end-of-text.

        Args:
            prompts: list of 1-D int arrays, one per prompt (ragged lengths allowed).
            max_new_tokens: tokens generated per row at most.
            max_length: alternatively, total tokens (prompt + new) per row at most.
            options: SamplingOptions (default greedy).
            seed: an int makes random samplers reproducible; None draws a fresh seed.
        """
        options = (options or SamplingOptions()).check()
        self.drafted = self.accepted = 0
        if not prompts:
            return []
        self._check_lengths([len(p) for p in prompts], max_new_tokens, max_length)
        prompts = [np.concatenate([self.start, p]).astype(np.int32) for p in prompts]
        lengths = [len(p) for p in prompts]
        if max_new_tokens is not None:
            limits = [n + max_new_tokens for n in lengths]
        else:
            limits = [max_length + len(self.start)] * len(prompts)
        if options.sampler == "beam":
            # keras-hub's beam search scores forced prompt tokens as if chosen;
            # rows of one length have no forced tokens, so decode per length.
            results = [None] * len(prompts)
            for length in sorted(set(lengths)):
                rows = [i for i, n in enumerate(lengths) if n == length]
                outputs = self._decode([prompts[i] for i in rows],
                                       max(limits[i] for i in rows), options, seed)
                for i, output in zip(rows, outputs, strict=True):
                    results[i] = output
        elif self.draft_tokens and options.sampler == "greedy" and len(set(lengths)) == 1:
            results = self._decode_speculative(prompts, max(limits))
        else:
            results = self._decode(prompts, max(limits), options, seed)
        return [self._cut(row, n, limit) for row, n, limit in zip(results, lengths, limits,
                                                                   strict=True)]

    def _check_lengths(self, lengths, max_new_tokens, max_length):
        """Raises GenerationError naming the argument that does not fit, in the caller's tokens."""
        if min(lengths) == 0:
            raise GenerationError("prompt: empty prompt; give at least one token of text")
        if (max_new_tokens is None) == (max_length is None):
            raise GenerationError("max_new_tokens / max_length: give exactly one of them")
        longest, room = max(lengths), self.context_length - len(self.start)
        if max_length is not None:
            if max_length <= longest:
                raise GenerationError(f"max_length: got {max_length}, but the longest prompt "
                                      f"has {longest} tokens; expected more than that")
            if max_length > room:
                raise GenerationError(f"max_length: got {max_length}, more than the model's "
                                      f"context window of {room} tokens")
        elif max_new_tokens < 1:
            raise GenerationError(f"max_new_tokens: got {max_new_tokens}, expected >= 1")
        elif longest + max_new_tokens > room:
            raise GenerationError(
                f"max_new_tokens: the longest prompt has {longest} tokens, plus {max_new_tokens} "
                f"new ones is more than the model's context window of {room} tokens; shorten "
                "the prompt or ask for fewer tokens")

    def _decode(self, prompts, width, options, seed):
        token_ids = np.full((len(prompts), width), self.pad_id, np.int32)
        mask = np.zeros((len(prompts), width), bool)
        for row, prompt in enumerate(prompts):
            token_ids[row, :len(prompt)] = prompt
            mask[row, :len(prompt)] = True
        sampler, function = self._function(options)
        if hasattr(sampler, "seed_generator"):
            seed = int(np.random.randint(2**31 - 1)) if seed is None else int(seed)
            sampler.seed_generator.state.assign(np.array([seed, 0], np.uint32).astype(
                sampler.seed_generator.state.dtype))
        prefix = token_ids[:, :min(len(p) for p in prompts)]
        return function(tf.constant(prefix), tf.constant(token_ids), tf.constant(mask)).numpy()

    def _decode_speculative(self, prompts, limit):
        """Speculative greedy decoding of prompts of one length up to `limit` positions.

        The cache gets `draft_tokens` positions beyond `limit` (as far as the
        context allows), so that rounds, not plain steps, reach the limit.
        """
        width = min(limit + self.draft_tokens, self.context_length)
        token_ids = np.full((len(prompts), width + 1), self.pad_id, np.int32)
        token_ids[:, :len(prompts[0])] = np.stack(prompts)
        tokens, drafted, accepted = self._speculative_function()(
            tf.constant(np.stack(prompts)), tf.constant(token_ids), tf.constant(limit, tf.int32))
        self.drafted, self.accepted = int(drafted), int(accepted)
        return tokens.numpy()

    def _cut(self, row, prompt_length, limit):
        new = row[prompt_length:limit]
        ends = np.flatnonzero(new == self.end_id)
        return new[:ends[0]] if len(ends) else new
