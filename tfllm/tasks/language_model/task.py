"""Language modelling (`task: language_modeling`, configs/gpt_lm.py): documents or prompt ->
response pairs to a GPT-2 or Llama decoder (random, or imported: Hugging Face, GGUF,
keras-hub), and `import_checkpoint`, which writes a pretrained decoder as a finished run.
"""

import os

from tfllm import atomic
from tfllm import config as config_lib
from tfllm import locking
from tfllm.data import bpe
from tfllm.data import cleaning
from tfllm.data import documents
from tfllm.data import examples as examples_lib
from tfllm.data import lm_pipeline
from tfllm.errors import ConfigError, DataError, TfllmError
from tfllm.evaluation import language_model as lm_eval
from tfllm.models import document_mask
from tfllm.models import gpt_backbone as gpt
from tfllm.models import pretrained_lm
from tfllm.tasks import base
from tfllm.tasks.language_model import checks
from tfllm.tasks.language_model import serving
from tfllm.tasks.language_model.pipeline import TextGenerationPipeline
from tfllm.tasks.language_model.predictor import LanguageModel
from tfllm.training import precision
from tfllm.training import run
from tfllm.training import compiling
from tfllm.workdir import Paths, finished_run


def training_texts(examples, data_config):
    """The cleaned texts the BPE merges are learned from (prompts as the template writes them)."""
    if examples.pairs:
        texts = [lm_pipeline.format_prompt(data_config.prompt_template, r.text)
                 for r in examples.train] + [r.text_pair for r in examples.train]
    else:
        texts = [r.text for r in examples.train]
    clean = cleaning.clean_fn(data_config.cleaning)
    return [t.decode("utf-8") for t in clean(texts).numpy()]


def tokenizer_files_for(config, examples, paths, checkpoint=None):
    """Returns (vocabulary, merges): the work directory's (resumed run), the checkpoint's,
    the config's or learned."""
    if os.path.exists(os.path.join(paths.tokenizer, bpe.VOCAB_FILE)):
        return bpe.load(paths.tokenizer, flag=paths.tokenizer)
    if checkpoint is not None:
        return checkpoint.vocabulary, checkpoint.merges
    if config.tokenizer.vocabulary:
        return bpe.load(config.tokenizer.vocabulary)
    return bpe.learn(training_texts(examples, config.data), config.tokenizer.vocabulary_size,
                     config.tokenizer.min_frequency)


def resolve(config, vocabulary_size, pairs, checkpoint=None, training=True):
    """Returns a copy of `config` with architecture, model dimensions, context and data
    format filled in (from model.size, or from the pretrained checkpoint); `training`
    checks that the training blocks fit the checkpoint's context."""
    resolved = config.copy_and_resolve_references()
    with resolved.unlocked():
        resolved.data.format = "pairs" if pairs else "documents"
        backbone = resolved.model.backbone
        if checkpoint is None:
            resolved.model.architecture = "gpt2"
            backbone.max_sequence_length = (backbone.max_sequence_length
                                            or config.data.max_seq_length)
            dims = gpt.backbone_kwargs(resolved.model, vocabulary_size)
        else:
            resolved.model.architecture = checkpoint.architecture
            context = checkpoint.context_length or config.data.max_seq_length
            if training:
                config_lib.check_fits_context(config, context, checkpoint.path)
            backbone.max_sequence_length = context
            dims = checkpoint.dims
        for key in ("num_layers", "num_heads", "hidden_dim", "intermediate_dim"):
            backbone[key] = dims[key]
        resolved.runtime.mixed_precision = precision.resolve(
            config.runtime.mixed_precision, config.runtime.distribution)
    return resolved


def read_checkpoint(config):
    """The pretrained decoder `model.init_from` names (tokenizer, shape), or None."""
    if not config.model.init_from:
        return None
    return pretrained_lm.read_decoder_checkpoint(config.model.init_from, config.tokenizer,
                                                 config.model.init_unsafe)


def build_model(config, vocabulary_size, checkpoint=None):
    """The causal LM a (resolved) config describes: random GPT, or the pretrained decoder.

    Returns:
        (model, WeightReport of the pretrained import or None).
    """
    if checkpoint is None:
        return gpt.build_causal_lm(gpt.backbone_kwargs(config.model, vocabulary_size)), None
    return pretrained_lm.load_causal_lm(checkpoint, config.model.backbone.dropout,
                                        unsafe=config.model.init_unsafe)


class LanguageModelTask(base.Task):
    """Next-token prediction on packed blocks of documents, or on prompt -> response pairs
    (loss on the responses only); the validation loss picks the best epoch; evaluation
    reports perplexity against a unigram baseline."""

    name = "language_modeling"
    monitor = ("val_loss", "min")
    pipelines = {"text-generation": TextGenerationPipeline}
    try_command = "tfllm generate --workdir={workdir} --prompt='What is AI?'"
    generates = True

    predictor = LanguageModel
    export_parts = staticmethod(serving.export_parts)
    command_flags = checks.COMMAND_FLAGS

    def check_config(self, config):
        checks.check_config(config)

    def prepare(self, config, paths):
        examples = documents.prepare(config.data)
        print(examples_lib.describe(examples.report), flush=True)
        checkpoint = read_checkpoint(config)
        vocabulary, merges = tokenizer_files_for(config, examples, paths, checkpoint)
        resolved = resolve(config, len(vocabulary), examples.pairs, checkpoint)
        run.save_prepared(paths, resolved, examples.report, vocabulary, merges)
        return base.Prepared(resolved, examples, bpe.build_tokenizer(vocabulary, merges),
                             checkpoint)

    def datasets(self, prepared):
        config, examples, tokenizer = prepared.config, prepared.data, prepared.tokenizer
        data = config.data
        packing = lm_pipeline.packing_of(data)
        tokenize = lm_pipeline.tokenize_fn(tokenizer, data.cleaning)
        end_id = tokenizer.end_token_id
        train_blocks, train_ids = lm_pipeline.packed_blocks(
            examples.train, tokenize, end_id, examples.pairs, data.prompt_template,
            data.max_seq_length, packing)
        val_blocks, _ = lm_pipeline.packed_blocks(
            examples.validation, tokenize, end_id, examples.pairs, data.prompt_template,
            data.max_seq_length, packing)
        blocks = len(train_blocks["token_ids"])
        if blocks < data.batch_size:
            raise DataError(
                f"{data.train}: {len(train_ids)} training tokens make {blocks} blocks of "
                f"--config.data.max_seq_length={data.max_seq_length}, less than one batch "
                f"(--config.data.batch_size={data.batch_size})")

        def stream(start_batch):
            return lm_pipeline.lm_dataset(train_blocks, data.batch_size, training=True,
                                          shuffle_buffer=data.shuffle_buffer, seed=config.seed,
                                          start_batch=start_batch, packing=packing)

        validation = lm_pipeline.lm_dataset(val_blocks, data.batch_size, training=False,
                                            packing=packing)
        return base.Datasets(stream, validation, run.steps_per_epoch(config, blocks),
                             data.max_seq_length, extra=(train_blocks, val_blocks))

    def build_model(self, prepared):
        model, report = build_model(prepared.config, prepared.tokenizer.vocabulary_size(),
                                    prepared.checkpoint)
        if lm_pipeline.packing_of(prepared.config.data) == "documents":  # texts apart
            model = document_mask.with_document_mask(model)
        return model, report

    def compile_model(self, model, config, steps_per_epoch):
        compiling.compile_token_model(model, config, steps_per_epoch)

    def evaluate(self, model, prepared, datasets):
        report = lm_eval.perplexity_report(model, datasets.validation, "validation")
        train_blocks, val_blocks = datasets.extra
        # The baseline counts the training tokens the model was scored on (responses, for
        # pairs).
        trained_on = train_blocks["targets"][train_blocks["weights"] > 0]
        report["unigram_perplexity"] = lm_eval.unigram_perplexity(
            trained_on, prepared.tokenizer.vocabulary_size(), val_blocks["targets"],
            val_blocks["weights"])
        return report

    def base_model(self, workdir):
        """The decoder `model.init_from` names (or the run's random initialisation, from its
        seed), without LoRA."""
        paths, config = finished_run(workdir)
        vocabulary, _ = bpe.load(paths.tokenizer, flag=paths.tokenizer)
        with run.runtime(config):
            model, _ = build_model(config, len(vocabulary), read_checkpoint(config))
        return model

    def summary(self, report):
        return (f"validation perplexity {report['perplexity']:.2f} on {report['tokens']} "
                f"tokens (unigram baseline {report['unigram_perplexity']:.2f}) in "
                f"{base.minutes(report)}")

    def print_report(self, report):
        lm_eval.print_report(report)

    def check_flags(self, command, given, config):
        checks.check_flags(command, given, config)

    def predict_records(self, predictor, request):
        raise TfllmError("--workdir: a language model predicts no labels; use tfllm generate "
                         f"--workdir={predictor.workdir} --prompt=TEXT")

    def generate_records(self, predictor, prompts, options):
        if options.weights_dtype or options.draft_tokens is not None:
            predictor.set_weights_dtype(
                options.weights_dtype or predictor.weights_dtype,
                predictor.draft_tokens if options.draft_tokens is None else options.draft_tokens)
        generator = TextGenerationPipeline(predictor)
        results = generator(
            prompts, max_new_tokens=options.max_new_tokens, max_length=options.max_length,
            sampler=options.sampler, temperature=options.temperature, top_k=options.top_k,
            top_p=options.top_p, num_beams=options.num_beams, seed=options.seed,
            apply_template=False if options.raw else None)
        for prompt, result in zip(prompts, results):
            yield {"prompt": prompt, **result}


TASK = LanguageModelTask()

def import_checkpoint(config, workdir):
    """Writes the pretrained decoder `model.init_from` names as a finished run, untrained.

    The work directory holds what a trained run's does (config.json,
    tokenizer/, model.keras, init_from.json) except metrics, so `tfllm
    generate`, `evaluate` and `export` work on a Hugging Face, GGUF or
    keras-hub checkpoint as it is. Prompts get the config's template only
    with `data.format=pairs`; otherwise they are passed raw.

    Returns:
        The WeightReport as a dict, plus the work directory.
    """
    config_lib.validate(config)
    if not config.model.init_from:
        raise ConfigError("model.init_from", "empty; name the checkpoint to import")
    with locking.locked(workdir, "this import"):
        report = _write_imported_run(config, Paths(workdir))
    return {**report.as_dict(), "workdir": workdir}


def _write_imported_run(config, paths):
    """import_checkpoint's work, under the work directory's lock; returns the WeightReport."""
    if os.path.exists(paths.model):
        raise DataError(f"{paths.root} already holds a model.keras; choose another --workdir")
    base.progress(f"reading {config.model.init_from} ...")
    checkpoint = read_checkpoint(config)
    paths.make_dirs()
    bpe.save(checkpoint.vocabulary, checkpoint.merges, paths.tokenizer)
    resolved = resolve(config, len(checkpoint.vocabulary), config.data.format == "pairs",
                       checkpoint, training=False)
    with resolved.unlocked():  # evaluation packs blocks of this length: keep them in context
        resolved.data.max_seq_length = min(config.data.max_seq_length,
                                           resolved.model.backbone.max_sequence_length)
    config_lib.save(resolved, paths.config)
    with run.runtime(resolved):
        base.progress(f"building the {resolved.model.architecture} decoder and loading its "
                      "weights ...")
        model, report = build_model(resolved, len(checkpoint.vocabulary), checkpoint)
        run.report_import(report, paths)
        base.progress(f"writing {paths.model} ...")
        atomic.replace(paths.model, model.save)
    return report
