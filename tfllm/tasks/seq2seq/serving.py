"""The serving module of a seq2seq run: source strings in, target strings out.

Cleaning, byte-level BPE, packing `<s> source </s>`, the encoder, greedy decoding
over keras-hub's key/value caches (`BartSeq2SeqLM.call_decoder_with_cache`) and
detokenization all run in the graph, in a TensorFlow while loop without XLA
(traced under `core_ops.without_xla_ops` by the writer), so TF Serving needs
nothing but the SavedModel directory and the tensorflow-text ops. The loop
makes the choices of `Seq2Seq.generate` with the greedy sampler: same cache
seeding, same steps, so the same targets.
"""

import os

import numpy as np
import tensorflow as tf

from tfllm.data import bpe
from tfllm.data import lm_pipeline
from tfllm.models import bart
from tfllm.serving.untracked import Untracked
from tfllm.workdir import Paths


class Seq2SeqModule(tf.Module):
    """Serving functions over a trained BartSeq2SeqLM.

    Args:
        model: the keras-hub BartSeq2SeqLM.
        tokenizer: the keras-hub BartTokenizer (tracked, so its lookup tables are saved).
        tokenize: strings [batch] -> ragged token ids (cleaning, then `tokenizer`).
        max_source_length: positions of a packed source (longer sources are cut).
        context_length: the decoder's positions.
        max_new_tokens: serving_default's limit on target tokens.
    """

    def __init__(self, model, tokenizer, tokenize, max_source_length, context_length,
                 max_new_tokens):
        super().__init__(name="tfllm_seq2seq")
        # As in ClassifierModule: variables tracked once, the Keras model not at all.
        self._model = Untracked(model)
        self.model_variables = [variable.value for variable in model.variables]
        self.tokenizer = tokenizer
        self.tokenize = tokenize
        self.start_id, self.end_id = tokenizer.start_token_id, tokenizer.end_token_id
        self.pad_id = tokenizer.pad_token_id
        self.max_source_length = int(min(max_source_length, context_length))
        self.context_length = int(context_length)
        self.max_new_tokens = int(max_new_tokens)

    def _encoder_inputs(self, source):
        ids = tf.cast(self.tokenize(source), tf.int32)[:, :self.max_source_length - 2]
        batch = tf.shape(source)[0]

        def column(value):
            return tf.RaggedTensor.from_tensor(tf.fill([batch, 1], value))

        ids = tf.concat([column(self.start_id), ids, column(self.end_id)], axis=1)
        token_ids = ids.to_tensor(default_value=self.pad_id)
        return token_ids, tf.sequence_mask(ids.row_lengths(), tf.shape(token_ids)[1])

    def _empty_caches(self, batch, width, source_width):
        backbone = self._model.value.backbone
        head_dim = backbone.hidden_dim // backbone.num_heads
        dtype = self._model.value.compute_dtype

        def zeros(length):  # (batch, layers, key/value, length, heads, head_dim)
            return tf.zeros([batch, backbone.num_layers, 2, length, backbone.num_heads,
                             head_dim], dtype)

        return zeros(width), zeros(source_width)

    def _generate(self, source, max_new_tokens):
        model = self._model.value
        max_new_tokens = tf.clip_by_value(max_new_tokens, 1,
                                          self.context_length - bart.DECODER_START)
        encoder_ids, encoder_mask = self._encoder_inputs(source)
        batch = tf.shape(source)[0]
        width = bart.DECODER_START + max_new_tokens
        token_ids = tf.concat([tf.fill([batch, 1], self.end_id), tf.fill([batch, 1], self.start_id),
                               tf.fill([batch, max_new_tokens], self.pad_id)], axis=1)
        # As keras-hub's generate_step: the encoder once, then both caches seeded from the
        # whole (padded) decoder row; each step then rewrites its own position.
        encoded = model.call_encoder(encoder_ids, encoder_mask)
        self_cache, cross_cache = self._empty_caches(batch, width, tf.shape(encoder_ids)[1])
        _, _, self_cache, cross_cache = model.call_decoder_with_cache(
            encoded, encoder_mask, token_ids, self_cache, 0, cross_cache, 0)

        def cond(index, token_ids, self_cache):
            generated = token_ids[:, bart.DECODER_START:] == self.end_id
            return (index < width) & ~tf.reduce_all(tf.reduce_any(generated, axis=-1))

        def body(index, token_ids, self_cache):
            token = tf.slice(token_ids, [0, index - 1], [batch, 1])
            logits, _, self_cache, _ = model.call_decoder_with_cache(
                encoded, encoder_mask, token, self_cache, index - 1, cross_cache, None)
            chosen = tf.argmax(tf.cast(logits[:, 0], tf.float32), axis=-1, output_type=tf.int32)
            token_ids = tf.where(tf.range(width)[None, :] == index, chosen[:, None], token_ids)
            return index + 1, token_ids, self_cache

        start = tf.constant(bart.DECODER_START)
        _, token_ids, _ = tf.while_loop(
            cond, body, [start, token_ids, self_cache],
            shape_invariants=[start.shape, tf.TensorShape([None, None]), self_cache.shape])
        new = token_ids[:, bart.DECODER_START:]
        ended = tf.cumsum(tf.cast(new == self.end_id, tf.int32), axis=-1) > 0
        target_ids = tf.ragged.boolean_mask(new, ~ended)
        target = tf.strings.unicode_transcode(
            self.tokenizer.detokenize(target_ids), "UTF-8", "UTF-8", errors="replace")
        return {"target": target,
                "target_tokens": tf.cast(target_ids.row_lengths(), tf.int32)}

    def serve_source(self, source):
        return self._generate(source, tf.constant(self.max_new_tokens))

    def serve_generate(self, source, max_new_tokens):
        return self._generate(source, max_new_tokens)

    def signatures(self):
        """Returns the concrete functions to save, by signature name."""
        source = tf.TensorSpec([None], tf.string, name="source")
        default = tf.function(self.serve_source).get_concrete_function(source)
        generate = tf.function(self.serve_generate).get_concrete_function(
            source, tf.TensorSpec([], tf.int32, name="max_new_tokens"))
        return {"serving_default": default, "generate": generate}


WARMUP_SOURCES = ["What is AI?", ""]


def export_parts(seq2seq):
    """(module, warmup requests) of a loaded `tfllm.tasks.seq2seq.predictor.Seq2Seq`, for the writer."""
    config = seq2seq.config
    module = Seq2SeqModule(
        seq2seq.model, seq2seq.tokenizer,
        lm_pipeline.tokenize_fn(seq2seq.tokenizer, config.data.cleaning),
        config.data.max_source_length, seq2seq.context_length, config.generation.max_new_tokens)
    tokenizer_dir = Paths(seq2seq.workdir).tokenizer
    module.vocabulary_file = tf.saved_model.Asset(os.path.join(tokenizer_dir, bpe.VOCAB_FILE))
    module.merges_file = tf.saved_model.Asset(os.path.join(tokenizer_dir, bpe.MERGES_FILE))
    sources = np.array(WARMUP_SOURCES, dtype=object)
    requests = [("serving_default", {"source": sources}),
                ("generate", {"source": sources, "max_new_tokens": np.int32(4)})]
    return module, requests
