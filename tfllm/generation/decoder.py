"""Decoder: the compiled, cached decoding loop `LanguageModel.generate` runs."""


import numpy as np
import tensorflow as tf

from tfllm.generation.sampling import GenerationError, SamplingOptions, build_sampler
from tfllm.generation.speculative import speculative_greedy
from tfllm.generation.steps import cast_copy, pad_id_for, seed_cache, step_logits


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
