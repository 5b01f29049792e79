"""The serving module of a language model: prompt strings in, generated text out.

Generation runs the same cached steps as `tfllm.generation.decoder.Decoder`, in a
TensorFlow while loop without XLA (a SavedModel should not depend on the
serving binary's JIT). keras-hub's samplers keep their random state in a
variable and fix k, p and temperature when built; a server needs them per
request and reproducible under concurrent requests, so this loop chooses
tokens itself: temperature 0 is greedy, otherwise top-k, then top-p
(nucleus), then a draw from `tf.random.stateless_categorical` seeded by the
request's seed and the position.
"""

import os

import numpy as np
import tensorflow as tf

from tfllm.data import bpe
from tfllm.data import lm_pipeline
from tfllm.generation.steps import pad_id_for, seed_cache, step_logits
from tfllm.serving.untracked import Untracked
from tfllm.workdir import Paths

WARMUP_TEXTS = ["What is AI?", ""]


def choose_tokens(logits, temperature, top_k, top_p, seed, position):
    """Next token per row: greedy at temperature <= 0, else a seeded top-k/top-p draw.

    Args:
        logits: float [batch, vocabulary].
        temperature, top_p: float scalars; top_k, seed, position: int scalars.
            top_k <= 0 and top_p >= 1 keep every candidate; the most likely
            token is always kept, whatever top_p.
    """
    logits = tf.cast(logits, tf.float32)

    def draw():
        vocabulary = tf.shape(logits)[-1]
        scaled = logits / temperature
        k = tf.where(top_k > 0, tf.minimum(top_k, vocabulary), vocabulary)
        kth = tf.math.top_k(scaled, k=k).values[:, -1:]
        scaled = tf.where(scaled < kth, -1e9, scaled)
        ordered = tf.sort(scaled, axis=-1, direction="DESCENDING")
        before = tf.cumsum(tf.nn.softmax(ordered), axis=-1, exclusive=True)
        # Keep candidates whose preceding mass is below top_p, and always the first.
        kept = (before < top_p) | (tf.range(vocabulary) == 0)[None, :]
        floor = tf.reduce_min(tf.where(kept, ordered, 1e9), axis=-1, keepdims=True)
        scaled = tf.where((top_p < 1.0) & (scaled < floor), -1e9, scaled)
        seed_pair = tf.stack([tf.cast(seed, tf.int64), tf.cast(position, tf.int64)])
        return tf.random.stateless_categorical(scaled, 1, seed=seed_pair, dtype=tf.int32)[:, 0]

    def greedy():
        return tf.argmax(logits, axis=-1, output_type=tf.int32)

    return tf.cond(temperature > 0, draw, greedy)


class LanguageModelModule(tf.Module):
    """Serving functions over a trained GPT.

    Args:
        model: the keras-hub GPT2CausalLM.
        tokenizer: the keras-hub GPT2Tokenizer (tracked, so its lookup tables are saved).
        tokenize: strings [batch] -> ragged token ids (cleaning, then `tokenizer`).
        end_id: the end-of-text id.
        context_length: positions the model has.
        prompt_prefix, prompt_suffix: the run's prompt template around the prompt
            ('' and '' for runs trained on documents).
        defaults: dict of max_new_tokens, temperature, top_k, top_p (serving_default's).
    """

    def __init__(self, model, tokenizer, tokenize, end_id, context_length, prompt_prefix,
                 prompt_suffix, defaults):
        super().__init__(name="tfllm_language_model")
        # As in ClassifierModule: variables tracked once, the Keras model not at all.
        self._model = Untracked(model)
        self.model_variables = [variable.value for variable in model.variables]
        self.tokenizer = tokenizer
        self.tokenize = tokenize
        self.end_id = int(end_id)
        self.pad_id = pad_id_for(self.end_id)
        self.context_length = int(context_length)
        self.prompt_prefix, self.prompt_suffix = prompt_prefix, prompt_suffix
        self.defaults = defaults

    def _prompt_ids(self, prompt, max_new_tokens):
        """Ragged ids: end-of-text + the templated prompt, left-truncated to leave room."""
        text = tf.strings.join([self.prompt_prefix, prompt, self.prompt_suffix])
        ids = tf.cast(self.tokenize(text), tf.int32)
        keep = self.context_length - 1 - max_new_tokens
        ids = ids[:, -keep:] if keep > 0 else ids[:, :0]
        start = tf.fill([tf.shape(prompt)[0], 1], self.end_id)
        return tf.concat([tf.RaggedTensor.from_tensor(start), ids], axis=1)

    def _generate(self, prompt, max_new_tokens, temperature, top_k, top_p, seed):
        model = self._model.value
        max_new_tokens = tf.clip_by_value(max_new_tokens, 1, self.context_length - 1)
        ids = self._prompt_ids(prompt, max_new_tokens)
        lengths = tf.cast(ids.row_lengths(), tf.int32)
        width = tf.reduce_max(lengths) + max_new_tokens
        batch = tf.shape(prompt)[0]
        token_ids = ids.to_tensor(default_value=self.pad_id,
                                  shape=tf.cast(tf.stack([batch, width]), tf.int64))
        mask = tf.sequence_mask(lengths, width)
        start = tf.reduce_min(lengths)
        cache = seed_cache(model, token_ids[:, :start], width)
        limit = lengths + max_new_tokens  # each row's own last position + 1

        def done(token_ids, index):
            generated = (~mask) & (token_ids == self.end_id)
            return tf.reduce_all(tf.reduce_any(generated, axis=-1) | (limit <= index))

        def cond(index, token_ids, cache):
            return (index < width) & ~done(token_ids, index)

        def body(index, token_ids, cache):
            logits, _, cache = step_logits(model, token_ids, cache, index)
            chosen = choose_tokens(logits, temperature, top_k, top_p, seed, index)
            column = tf.where(mask[:, index], token_ids[:, index], chosen)
            token_ids = tf.where(tf.range(width)[None, :] == index, column[:, None], token_ids)
            return index + 1, token_ids, cache

        _, token_ids, _ = tf.while_loop(
            cond, body, [start, token_ids, cache],
            shape_invariants=[start.shape, tf.TensorShape([None, None]), cache.shape])
        positions = tf.range(width)[None, :]
        new = (positions >= lengths[:, None]) & (positions < limit[:, None])
        ended = tf.cumsum(tf.cast(new & (token_ids == self.end_id), tf.int32), axis=-1) > 0
        keep = new & ~ended
        completion_ids = tf.ragged.boolean_mask(token_ids, keep)
        # A cut (or a draw) can split a multi-byte character; serve valid UTF-8.
        completion = tf.strings.unicode_transcode(
            self.tokenizer.detokenize(completion_ids), "UTF-8", "UTF-8", errors="replace")
        return {
            "generated_text": tf.strings.join([self.prompt_prefix, prompt, self.prompt_suffix,
                                               completion]),
            "completion": completion,
            "completion_tokens": tf.cast(completion_ids.row_lengths(), tf.int32),
        }

    def serve_prompt(self, prompt):
        d = self.defaults
        return self._generate(prompt, tf.constant(d["max_new_tokens"]),
                              tf.constant(d["temperature"], tf.float32),
                              tf.constant(d["top_k"]), tf.constant(d["top_p"], tf.float32),
                              tf.constant(0))

    def serve_generate(self, prompt, max_new_tokens, temperature, top_k, top_p, seed):
        return self._generate(prompt, max_new_tokens, temperature, top_k, top_p, seed)

    def serve_score(self, text):
        """Log-likelihood (nats) of each text after end-of-text, and the tokens it covers."""
        model = self._model.value
        ids = tf.cast(self.tokenize(text), tf.int32)[:, :self.context_length - 1]
        start = tf.RaggedTensor.from_tensor(tf.fill([tf.shape(text)[0], 1], self.end_id))
        ids = tf.concat([start, ids], axis=1)
        token_ids = ids.to_tensor(default_value=self.pad_id)
        mask = tf.sequence_mask(ids.row_lengths(), tf.shape(token_ids)[1])
        logits = tf.cast(model({"token_ids": token_ids, "padding_mask": mask}, training=False),
                         tf.float32)
        log_probs = tf.nn.log_softmax(logits[:, :-1], axis=-1)
        targets = token_ids[:, 1:]
        picked = tf.gather(log_probs, targets, axis=-1, batch_dims=2)
        scored = tf.cast(mask[:, 1:], tf.float32)
        return {"log_likelihood": tf.reduce_sum(picked * scored, axis=-1),
                "token_count": tf.cast(tf.reduce_sum(scored, axis=-1), tf.int32)}

    def signatures(self):
        """Returns the concrete functions to save, by signature name."""
        prompt = tf.TensorSpec([None], tf.string, name="prompt")
        default = tf.function(self.serve_prompt).get_concrete_function(prompt)
        generate = tf.function(self.serve_generate).get_concrete_function(
            prompt, tf.TensorSpec([], tf.int32, name="max_new_tokens"),
            tf.TensorSpec([], tf.float32, name="temperature"),
            tf.TensorSpec([], tf.int32, name="top_k"),
            tf.TensorSpec([], tf.float32, name="top_p"),
            tf.TensorSpec([], tf.int32, name="seed"))
        score = tf.function(self.serve_score).get_concrete_function(
            tf.TensorSpec([None], tf.string, name="text"))
        return {"serving_default": default, "generate": generate, "score": score}


def language_model_module(lm):
    """The serving module of a loaded language model, with its BPE files as assets.

    `serving_default` uses the run's generation defaults; a beam-search
    default becomes greedy (the exported loop has no beams).
    """
    config = lm.config
    prefix, suffix = ("", "")
    if lm.trained_on_pairs:
        prefix, suffix = config.data.prompt_template.split(lm_pipeline.PROMPT_FIELD, 1)
    generation = config.generation
    sampling = generation.sampler in ("top_k", "top_p", "random")
    defaults = {
        "max_new_tokens": generation.max_new_tokens,
        "temperature": generation.temperature if sampling else 0.0,
        "top_k": generation.top_k if generation.sampler == "top_k" else 0,
        "top_p": generation.top_p if generation.sampler == "top_p" else 1.0,
    }
    tokenize = lm_pipeline.tokenize_fn(lm.tokenizer, config.data.cleaning)
    module = LanguageModelModule(lm.model, lm.tokenizer, tokenize, lm.end_id, lm.context_length,
                                 prefix, suffix, defaults)
    tokenizer_dir = Paths(lm.workdir).tokenizer
    module.vocabulary_file = tf.saved_model.Asset(os.path.join(tokenizer_dir, bpe.VOCAB_FILE))
    module.merges_file = tf.saved_model.Asset(os.path.join(tokenizer_dir, bpe.MERGES_FILE))
    return module


def language_model_warmup():
    """One request per signature of a LanguageModelModule."""
    prompts = np.array(WARMUP_TEXTS, dtype=object)
    return [
        ("serving_default", {"prompt": prompts}),
        ("generate", {"prompt": prompts, "max_new_tokens": np.int32(4),
                      "temperature": np.float32(0.7), "top_k": np.int32(10),
                      "top_p": np.float32(0.9), "seed": np.int32(0)}),
        ("score", {"text": prompts}),
    ]


def export_parts(lm):
    """(module, warmup requests) for `tfllm.serving.writer.export`."""
    return language_model_module(lm), language_model_warmup()
