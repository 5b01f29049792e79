"""A trained text-to-text run loaded from its work directory: generate targets, evaluate.

Generation is keras-hub's `BartSeq2SeqLM.generate_step` (encoder once, then a
cached decoder step per token) with tfllm's samplers (`tfllm.generation`),
inside one compiled function per sampling setting. Without XLA
(`generation.jit_compile=False`) the function is traced with core ops only,
as exports are (see `tfllm.serving.core_ops`).
"""

import numpy as np
import tensorflow as tf

from tfllm.data import documents
from tfllm.data import examples as examples_lib
from tfllm.data import lm_pipeline
from tfllm.models import keras_file
from tfllm.tasks.seq2seq import data as seq2seq_data
from tfllm.data import sources as sources_lib
from tfllm.errors import DataError
from tfllm.evaluation import language_model as lm_eval
from tfllm.evaluation import text_overlap
from tfllm.generation import sampling
from tfllm.generation.sampling import GenerationError, SamplingOptions, build_sampler
from tfllm.models import bart
from tfllm.serving import core_ops
from tfllm.workdir import finished_run


def encoder_inputs(source_ids, start_id, end_id, pad_id, max_length):
    """(token ids, padding mask) of `<s> source </s>` rows, each source cut to fit
    `max_length` positions, padded to the longest row."""
    rows = [[start_id, *ids[:max_length - 2], end_id] for ids in source_ids]
    width = max(len(r) for r in rows)
    token_ids = np.full((len(rows), width), pad_id, np.int32)
    mask = np.zeros((len(rows), width), bool)
    for index, row in enumerate(rows):
        token_ids[index, :len(row)] = row
        mask[index, :len(row)] = True
    return token_ids, mask


class Seq2SeqDecoder:
    """Generates target ids from a keras-hub BartSeq2SeqLM.

    Args:
        seq2seq_lm: the BartSeq2SeqLM (its `generate_step` runs the loop).
        start_id, end_id, pad_id: the tokenizer's `<s>`, `</s>` and `<pad>` ids.
        context_length: decoder positions (`</s> <s>` + generated tokens at most).
        jit_compile: XLA-compile the loop.
    """

    def __init__(self, seq2seq_lm, start_id, end_id, pad_id, context_length, jit_compile=True):
        self.model = seq2seq_lm
        self.start_id, self.end_id, self.pad_id = int(start_id), int(end_id), int(pad_id)
        self.context_length = int(context_length)
        self.jit_compile = jit_compile
        self._compiled = {}

    def _function(self, options):
        key = options.key()
        if key not in self._compiled:
            sampler, model, end_id = build_sampler(options), self.model, self.end_id

            def decode(encoder_token_ids, encoder_padding_mask, decoder_token_ids,
                       decoder_padding_mask):
                model.sampler = sampler  # generate_step reads it while tracing
                return model.generate_step({
                    "encoder_token_ids": encoder_token_ids,
                    "encoder_padding_mask": encoder_padding_mask,
                    "decoder_token_ids": decoder_token_ids,
                    "decoder_padding_mask": decoder_padding_mask,
                }, stop_token_ids=[end_id])["decoder_token_ids"]

            spec = [tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None], tf.bool),
                    tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None], tf.bool)]
            function = tf.function(decode, input_signature=spec, jit_compile=self.jit_compile)
            if not self.jit_compile:
                with core_ops.without_xla_ops():
                    function = function.get_concrete_function()
            self._compiled[key] = (sampler, function)
        return self._compiled[key]

    def generate(self, encoder_token_ids, encoder_padding_mask, max_new_tokens, options=None,
                 seed=None):
        """Returns the generated ids of each row, up to (not including) its `</s>`."""
        options = (options or SamplingOptions()).check()
        if max_new_tokens < 1 or max_new_tokens + bart.DECODER_START > self.context_length:
            raise GenerationError(
                f"max_new_tokens: got {max_new_tokens}, expected 1 to "
                f"{self.context_length - bart.DECODER_START} (the decoder's positions less "
                "</s> <s>)")
        rows, width = len(encoder_token_ids), bart.DECODER_START + max_new_tokens
        decoder_ids = np.full((rows, width), self.pad_id, np.int32)
        decoder_ids[:, :bart.DECODER_START] = [self.end_id, self.start_id]
        decoder_mask = np.zeros((rows, width), bool)
        decoder_mask[:, :bart.DECODER_START] = True
        sampler, function = self._function(options)
        if hasattr(sampler, "seed_generator"):
            seed = int(np.random.randint(2**31 - 1)) if seed is None else int(seed)
            sampler.seed_generator.state.assign(np.array([seed, 0], np.uint32).astype(
                sampler.seed_generator.state.dtype))
        output = function(tf.constant(encoder_token_ids), tf.constant(encoder_padding_mask),
                          tf.constant(decoder_ids), tf.constant(decoder_mask)).numpy()
        results = []
        for row in output[:, bart.DECODER_START:]:
            ends = np.flatnonzero(row == self.end_id)
            results.append(row[:ends[0]] if len(ends) else row)
        return results


class Seq2Seq:
    """The BART model, tokenizer and generation defaults of one finished seq2seq run.

    Args:
        workdir: a work directory written by `tfllm.train` with `task: seq2seq`.
        model: the run's model, if already in memory (else model.keras is loaded).

    Example:
    >>> translator = Seq2Seq("runs/seq2seq")  # doctest: +SKIP
    >>> translator.generate(["lu mi ze"])  # doctest: +SKIP
    ['dor fip pav']
    """

    def __init__(self, workdir, model=None):
        paths, self.config = finished_run(workdir)
        self.workdir = workdir
        if self.config.task != "seq2seq":
            raise DataError(f"{workdir}: a {self.config.task} run, not a seq2seq run")
        self.tokenizer = bart.build_tokenizer(
            *bart.load_tokenizer_files(paths.tokenizer, flag=paths.tokenizer))
        if model is None:
            model = keras_file.load_run(paths, self.config)
        self.model = model
        tokenizer = self.tokenizer
        self.start_id, self.end_id = tokenizer.start_token_id, tokenizer.end_token_id
        self.pad_id = tokenizer.pad_token_id
        self.context_length = self.config.model.backbone.max_sequence_length
        # Eager calls: milliseconds, where tracing the tokenizer takes seconds.
        self._tokenize = lm_pipeline.tokenize_fn(tokenizer, self.config.data.cleaning)
        self.decoder = Seq2SeqDecoder(model, self.start_id, self.end_id, self.pad_id,
                                      self.context_length, self.config.generation.jit_compile)

    def tokenize(self, texts):
        """One int32 id array per text (cleaned and tokenized by the graph's ops, no specials)."""
        return seq2seq_data.token_ids(list(texts), self._tokenize)

    def detokenize(self, rows):
        """The text of each id sequence (a list of id arrays)."""
        if not rows:
            return []
        ragged = tf.RaggedTensor.from_row_lengths(
            np.concatenate([np.asarray(r, np.int32) for r in rows]), [len(r) for r in rows])
        texts = self.tokenizer.detokenize(ragged)
        texts = texts.numpy() if hasattr(texts, "numpy") else texts  # eager: a list
        # a sampled cut may split a multi-byte character
        return [t.decode("utf-8", "replace") if isinstance(t, bytes) else t for t in texts]

    # The same overrides, defaults and checks as a language model's.
    def sampling_options(self, **overrides):
        """The run's generation defaults with `overrides` (see `sampling.sampling_options`)."""
        return sampling.sampling_options(self.config.generation, **overrides)

    def generate(self, sources, max_new_tokens=None, seed=None, **sampling):
        """Returns the generated target of each source.

        Args:
            sources: list of strings (or one string: then one string is returned).
            max_new_tokens: target tokens at most (default: the run's
                generation.max_new_tokens).
            seed: makes random samplers reproducible.
            **sampling: sampler, temperature, top_k, top_p, num_beams (default:
                the run's generation section; greedy unless changed).

        A source longer than data.max_source_length tokens is cut to fit, as the
        export does.
        """
        if isinstance(sources, str):
            return self.generate([sources], max_new_tokens, seed, **sampling)[0]
        sources = list(sources)
        for index, source in enumerate(sources):
            if not isinstance(source, str) or not source.strip():
                raise GenerationError(f"source: source {index} is empty; expected text")
        if not sources:
            return []
        options = self.sampling_options(**sampling)
        max_new_tokens = max_new_tokens or self.config.generation.max_new_tokens
        length = min(self.config.data.max_source_length, self.context_length)
        token_ids, mask = encoder_inputs(self.tokenize(sources), self.start_id, self.end_id,
                                         self.pad_id, length)
        if options.sampler == "beam":  # keras-hub's beam search: one source per call
            rows = [self.decoder.generate(token_ids[i:i + 1], mask[i:i + 1], max_new_tokens,
                                          options, seed)[0] for i in range(len(sources))]
        else:
            rows = self.decoder.generate(token_ids, mask, max_new_tokens, options, seed)
        return self.detokenize(rows)

    def read_texts(self, spec):
        """(sources, None) of a file's source column (.tsv/.csv/.jsonl; .txt: one per line),
        for `tfllm predict --input`; DataError at the first bad row."""
        records = sources_lib.read_records(spec, text_column=self.config.data.source_column,
                                           label_column="")
        bad = [r for r in records if r.problem]
        if bad:
            raise DataError(f"{bad[0].origin}: {bad[0].problem}")
        return [r.text for r in records], None

    def score(self, records, batch_size=64):
        """BLEU, ROUGE-1/2/L and exact match of greedy outputs against the records' targets."""
        outputs = []
        for start in range(0, len(records), batch_size):
            batch = records[start:start + batch_size]
            outputs += self.generate([r.text for r in batch], sampler="greedy")
        return text_overlap.overlap_report([o.strip() for o in outputs],
                                           [r.text_pair.strip() for r in records])

    def pairs(self, spec=""):
        """The TokenizedPairs of a pairs file, or of the run's validation split (''), read and
        checked as in training (bad and too-long rows count against data.max_bad_fraction)."""
        data = self.config.data
        tokenize = lm_pipeline.tokenize_fn(self.tokenizer, data.cleaning)
        if not spec:
            train, validation, report = seq2seq_data.read_and_split(data)
            return seq2seq_data.finish(train, validation, report, tokenize, data)[1]
        records, bad = documents.usable(seq2seq_data.read(spec, data))
        fit, long = seq2seq_data.tokenize_pairs(records, tokenize, data)
        examples_lib.check_bad_rows(bad + long, len(records) + len(bad), data.max_bad_fraction)
        if not fit.records:
            raise DataError(f"{spec}: no usable source/target pairs to evaluate on")
        return fit

    def evaluate(self, spec="", generate=False, max_examples=0, batch_size=32):
        """Loss and perplexity of the targets (teacher-forced) on a pairs file or the run's
        validation split (''); with `generate`, also "generation": BLEU, ROUGE-1/2/L and
        exact match of greedy outputs on the first `max_examples` pairs (0 = all)."""
        pairs = self.pairs(spec)
        packed = seq2seq_data.pack(pairs, self.start_id, self.end_id, self.pad_id)
        dataset = seq2seq_data.dataset(packed, batch_size, training=False)
        report = lm_eval.perplexity_report(self.model, dataset, spec or "validation")
        if generate:
            records = pairs.records[:max_examples] if max_examples else pairs.records
            report["generation"] = self.score(records)
        return report
