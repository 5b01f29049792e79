"""A trained language model loaded from its work directory: generate text, measure perplexity."""

import os
import numpy as np
import tensorflow as tf

from tfllm.data import bpe
from tfllm.data import documents
from tfllm.data import examples as examples_lib
from tfllm.data import lm_pipeline
from tfllm.errors import DataError
from tfllm.evaluation import language_model as lm_eval
from tfllm.evaluation import text_overlap
from tfllm.generation import sampling
from tfllm.generation.decoder import Decoder
from tfllm.generation.sampling import WEIGHT_DTYPES, GenerationError
from tfllm.generation.steps import cast_copy
from tfllm.models import document_mask
from tfllm.models import keras_file
from tfllm.workdir import finished_run


class LanguageModel:
    """The GPT, tokenizer, prompt template and generation defaults of one finished run.

    Args:
        workdir: a work directory written by `tfllm.train` with a language-model config.

    Example:
    >>> lm = LanguageModel("runs/gpt_lm")  # doctest: +SKIP
    >>> lm.generate(["What is AI?"], max_new_tokens=20)  # doctest: +SKIP
    ['<the completion, after the prompt and its template>']
    """

    def __init__(self, workdir):
        paths, self.config = finished_run(workdir)
        self.workdir = workdir
        if self.config.task != "language_modeling":
            raise DataError(f"{workdir}: a {self.config.task} run, not a language model")
        self.tokenizer = bpe.build_tokenizer(*bpe.load(paths.tokenizer, flag=paths.tokenizer))
        self.model = keras_file.load_run(paths, self.config)
        self.end_id = self.tokenizer.end_token_id
        self.context_length = self.config.model.backbone.max_sequence_length
        self._tokenize = tf.function(
            lm_pipeline.tokenize_fn(self.tokenizer, self.config.data.cleaning),
            input_signature=[tf.TensorSpec([None], tf.string)])
        self._detokenize = tf.function(self.tokenizer.detokenize,
                                       input_signature=[tf.TensorSpec([None, None], tf.int32)])
        self.set_weights_dtype(self.config.generation.get("weights_dtype", "float32"),
                               self.config.generation.get("draft_tokens", 0))

    def set_weights_dtype(self, dtype, draft_tokens=0):
        """Decodes with the weights in `dtype` ('float32' or 'bfloat16'; see the config's
        generation.weights_dtype); `self.model` keeps its float32 weights. `draft_tokens` > 0
        decodes greedy float32 speculatively with a bfloat16 draft (generation.draft_tokens)."""
        if dtype not in WEIGHT_DTYPES:
            raise GenerationError(f"weights_dtype: got {dtype!r}, expected one of "
                                  f"{WEIGHT_DTYPES}")
        if draft_tokens and dtype != "float32":
            raise GenerationError("draft_tokens: speculative decoding verifies with the float32 "
                                  "weights; set weights_dtype to 'float32' or draft_tokens to 0")
        self.weights_dtype, self.draft_tokens = dtype, draft_tokens
        model = self.model if dtype == "float32" else cast_copy(self.model, dtype)
        # A prompt starts after end-of-text, as every text did in training.
        self.decoder = Decoder(model, self.end_id, self.context_length,
                               jit_compile=self.config.generation.jit_compile,
                               start_id=self.end_id, draft_tokens=draft_tokens)

    @property
    def trained_on_pairs(self):
        """True when the run learned prompt -> response (prompts then get its template)."""
        return self.config.data.format == "pairs"

    def prompt_text(self, prompt, apply_template=None):
        """The text generation continues: the prompt, through the run's template if it has one.

        Only runs trained on prompt/response pairs have a template; by default
        (`apply_template=None`) they use it, and `False` passes prompts raw.
        """
        if apply_template is False or not self.trained_on_pairs:
            return prompt
        return lm_pipeline.format_prompt(self.config.data.prompt_template, prompt)

    def tokenize(self, texts):
        """Returns one int32 id array per text (cleaned and tokenized in the graph)."""
        if not texts:
            return []
        return [np.asarray(row, np.int32) for row in self._tokenize(tf.constant(texts)).numpy()]

    def detokenize(self, ids):
        """Returns the text of one id sequence."""
        if len(ids) == 0:
            return ""
        text = self._detokenize(tf.constant([ids], tf.int32))[0].numpy()
        return text.decode("utf-8", "replace")  # a cut may split a multi-byte character

    def sampling_options(self, **overrides):
        """The run's generation defaults with `overrides` (see `sampling.sampling_options`)."""
        return sampling.sampling_options(self.config.generation, **overrides)

    def generate(self, prompts, max_new_tokens=None, max_length=None, seed=None,
                 apply_template=None, **sampling):
        """Returns the completion of each prompt (the new text only).

        Args:
            prompts: list of strings.
            max_new_tokens: tokens to generate at most (default: the run's
                generation.max_new_tokens); or give
            max_length: total tokens per row, prompt included (as in Hugging Face).
            seed: makes random samplers reproducible.
            apply_template: False passes prompts raw; otherwise runs trained on
                prompt/response pairs write them through their prompt template.
            **sampling: sampler, temperature, top_k, top_p, num_beams.
        """
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        for index, prompt in enumerate(prompts):
            if not isinstance(prompt, str) or not prompt.strip():
                raise GenerationError(f"prompt: prompt {index} is empty; expected text")
        options = self.sampling_options(**sampling)
        if max_new_tokens is None and max_length is None:
            max_new_tokens = self.config.generation.max_new_tokens
        ids = self.tokenize([self.prompt_text(p, apply_template) for p in prompts])
        new = self.decoder.generate(ids, max_new_tokens=max_new_tokens, max_length=max_length,
                                    options=options, seed=seed)
        return [self.detokenize(row) for row in new]

    def records(self, spec=""):
        """(records, pairs?, data config) of a data source ('' = the run's validation split)."""
        data = self.config.data
        if not spec:
            prepared = documents.prepare(data)
            return prepared.validation, prepared.pairs, data
        if not (spec == "default" or spec.startswith("tfds:") or os.path.isfile(spec)):
            raise DataError(f"--data: data file not found: {spec}")
        data = data.copy_and_resolve_references()
        with data.unlocked():
            data.format = "auto"  # the file's own shape, whatever the run trained on
        pairs = documents.is_pairs(spec, data)
        records, bad = documents.usable(documents.read(spec, data, pairs))
        examples_lib.check_bad_rows(bad, len(records) + len(bad), data.max_bad_fraction)
        return records, pairs, data

    def evaluate(self, spec="", generate=False, max_examples=0, batch_size=32):
        """Returns the perplexity report on a data source ('' = the run's validation split).

        With `generate`, the data must be prompt/response pairs: each prompt
        is completed greedily and the report gains "generation", the
        completions' BLEU, ROUGE-1/2/L and exact match against the responses
        (`text_overlap.overlap_report`), on the first `max_examples` pairs
        (0 = all).
        """
        records, pairs, data = self.records(spec)
        tokenize = lm_pipeline.tokenize_fn(self.tokenizer, data.cleaning)
        packing = lm_pipeline.packing_of(data)  # scored as the run trained and validated
        blocks, _ = lm_pipeline.packed_blocks(records, tokenize, self.end_id, pairs,
                                              data.prompt_template, data.max_seq_length, packing)
        dataset = lm_pipeline.lm_dataset(blocks, data.batch_size, training=False,
                                         packing=packing)
        model = (document_mask.with_document_mask(self.model) if packing == "documents"
                 else self.model)
        report = lm_eval.perplexity_report(model, dataset, spec or "validation")
        if generate:
            if not pairs:
                raise DataError(f"--data: {spec or 'the validation split'} has no prompt/response "
                                "pairs to compare generations with")
            scored = records[:max_examples] if max_examples else records
            completions = []
            for start in range(0, len(scored), batch_size):
                batch = scored[start:start + batch_size]
                completions += self.generate([r.text for r in batch], sampler="greedy")
            report["generation"] = text_overlap.overlap_report(
                [c.strip() for c in completions], [r.text_pair.strip() for r in scored])
        return report
