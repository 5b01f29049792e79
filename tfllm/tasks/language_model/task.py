"""train_and_evaluate for language models: from config to a work directory with a GPT.

Same order and guarantees as the classification run: config checked, data
read and checked, tokenizer learned (or loaded) before any model is built;
the same optimizer, callbacks, backups and metrics log.
"""

import os

import keras
import keras_hub

from tfllm import atomic
from tfllm import config as config_lib
from tfllm.data import bpe
from tfllm.data import cleaning
from tfllm.data import documents
from tfllm.data import examples as examples_lib
from tfllm.data import lm_pipeline
from tfllm.errors import ConfigError, DataError
from tfllm.evaluation import language_model as lm_eval
from tfllm.models import gpt
from tfllm.models import pretrained_lm
from tfllm.training import loop
from tfllm.training import optimizers
from tfllm.training import precision
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
                loop.check_fits_context(config, context, checkpoint.path)
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


def prepare_workdir(config, paths):
    """Reads the data, writes tokenizer files, resolved config and data report.

    Returns:
        (examples, vocabulary, merges, resolved config, pretrained checkpoint or None).
    """
    examples = documents.prepare(config.data)
    print(examples_lib.describe(examples.report), flush=True)
    checkpoint = read_checkpoint(config)
    paths.make_dirs()
    vocabulary, merges = tokenizer_files_for(config, examples, paths, checkpoint)
    bpe.save(vocabulary, merges, paths.tokenizer)
    resolved = resolve(config, len(vocabulary), examples.pairs, checkpoint)
    config_lib.save(resolved, paths.config)
    loop.write_json(paths.data_report, examples.report)
    return examples, vocabulary, merges, resolved, checkpoint


def compile_model(model, config, steps_per_epoch):
    """Compiles with AdamW, token cross-entropy averaged over weighted tokens, and perplexity."""
    model.compile(
        optimizer=optimizers.build_optimizer(config.train, steps_per_epoch),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"),
        weighted_metrics=[keras_hub.metrics.Perplexity(from_logits=True, name="perplexity")],
        jit_compile=config.runtime.jit_compile,
    )


def build_model(config, vocabulary_size, checkpoint=None):
    """The causal LM a (resolved) config describes: random GPT, or the pretrained decoder.

    Returns:
        (model, WeightReport of the pretrained import or None).
    """
    if checkpoint is None:
        return gpt.build_causal_lm(gpt.backbone_kwargs(config.model, vocabulary_size)), None
    return pretrained_lm.load_causal_lm(checkpoint, config.model.backbone.dropout,
                                        unsafe=config.model.init_unsafe)


def base_model(workdir):
    """The model the finished run in `workdir` started from, rebuilt without LoRA: the decoder
    `model.init_from` names (or the run's random initialisation, from its seed).

    `lora.load_adapters(base_model(workdir), file)` puts a LoRA run's adapter file onto it.
    """
    paths, config = finished_run(workdir)
    vocabulary, _ = bpe.load(paths.tokenizer, flag=paths.tokenizer)
    with loop.runtime(config):
        model, _ = build_model(config, len(vocabulary), read_checkpoint(config))
    return model


def fit(config, paths, examples, tokenizer, checkpoint, strategy, resume):
    """Packs the data, builds and compiles the model under `strategy`, trains it from
    `resume` (a backup, or None).

    Returns:
        (model, validation dataset, validation blocks, training blocks).
    """
    data = config.data
    tokenize = lm_pipeline.tokenize_fn(tokenizer, data.cleaning)
    end_id = tokenizer.end_token_id
    train_blocks, train_ids = lm_pipeline.packed_blocks(
        examples.train, tokenize, end_id, examples.pairs, data.prompt_template, data.max_seq_length)
    val_blocks, _ = lm_pipeline.packed_blocks(
        examples.validation, tokenize, end_id, examples.pairs, data.prompt_template,
        data.max_seq_length)
    blocks = len(train_blocks["token_ids"])
    if blocks < data.batch_size:
        raise DataError(
            f"{data.train}: {len(train_ids)} training tokens make {blocks} blocks of "
            f"--config.data.max_seq_length={data.max_seq_length}, less than one batch "
            f"(--config.data.batch_size={data.batch_size})")

    def stream(start_batch):
        return lm_pipeline.lm_dataset(train_blocks, data.batch_size, training=True,
                                      shuffle_buffer=data.shuffle_buffer, seed=config.seed,
                                      start_batch=start_batch)

    val_ds = lm_pipeline.lm_dataset(val_blocks, data.batch_size, training=False)
    full_epoch = blocks // data.batch_size
    steps_per_epoch = min(config.train.steps_per_epoch or full_epoch, full_epoch)

    model = loop.train_model(
        config, paths, strategy, resume,
        build=lambda: build_model(config, tokenizer.vocabulary_size(), checkpoint),
        recompile=lambda model: compile_model(model, config, steps_per_epoch), head=(),
        stream=stream, val_ds=val_ds, tokens_per_example=data.max_seq_length,
        steps_per_epoch=steps_per_epoch, monitor="val_loss", mode="min")
    return model, val_ds, val_blocks, train_blocks


def train_and_evaluate(config, workdir):
    """Trains the language model `config` describes; writes everything into `workdir`.

    Started again with the same arguments after a crash or a kill, it resumes
    from the last backup in `workdir/backup/` (see `tfllm.training.backup`).

    Returns:
        The validation report: perplexity, loss (nats per token), tokens
        scored, the unigram baseline's perplexity on the same tokens, wall
        time and the work directory.
    """
    def train_then_evaluate(paths, strategy, resume):
        examples, vocabulary, merges, resolved, checkpoint = prepare_workdir(config, paths)
        tokenizer = bpe.build_tokenizer(vocabulary, merges)
        with loop.runtime(resolved):
            model, val_ds, val_blocks, train_blocks = fit(resolved, paths, examples, tokenizer,
                                                          checkpoint, strategy, resume)
            loop.save_model(model, paths)
            report = lm_eval.perplexity_report(model, val_ds, "validation")
        # The baseline counts the training tokens the model was scored on (responses, for pairs).
        trained_on = train_blocks["targets"][train_blocks["weights"] > 0]
        report["unigram_perplexity"] = lm_eval.unigram_perplexity(
            trained_on, len(vocabulary), val_blocks["targets"], val_blocks["weights"])
        return report

    return loop.run_in_workdir(config, workdir, train_then_evaluate)


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
    paths = Paths(workdir)
    if os.path.exists(paths.model):
        raise DataError(f"{workdir} already holds a model.keras; choose another --workdir")
    checkpoint = read_checkpoint(config)
    paths.make_dirs()
    bpe.save(checkpoint.vocabulary, checkpoint.merges, paths.tokenizer)
    resolved = resolve(config, len(checkpoint.vocabulary), config.data.format == "pairs",
                       checkpoint, training=False)
    with resolved.unlocked():  # evaluation packs blocks of this length: keep them in context
        resolved.data.max_seq_length = min(config.data.max_seq_length,
                                           resolved.model.backbone.max_sequence_length)
    config_lib.save(resolved, paths.config)
    with loop.runtime(resolved):
        model, report = build_model(resolved, len(checkpoint.vocabulary), checkpoint)
        loop.report_import(report, paths)
        atomic.replace(paths.model, model.save)
    return {**report.as_dict(), "workdir": workdir}
