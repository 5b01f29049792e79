"""train_and_evaluate for text to text (`task: seq2seq`): source/target pairs to a work
directory with a BART encoder-decoder, or with a GPT trained on them as prompt -> response.

The BART route keeps the order and guarantees of the other runs and calls their
pieces (`tfllm.training.loop` and `lm_loop`): config checked; data read and
checked, too-long pairs included, before anything is written; tokenizer learned
(or loaded); the same optimizer, loss and perplexity as language models, the
same callbacks, backups, resume and metrics log. The GPT route is the language
model's pairs route itself (`lm_loop.train_and_evaluate` on a translated config).
"""

import os

import numpy as np

from tfllm import config as config_lib
from tfllm.configs import gpt_lm
from tfllm.data import bpe
from tfllm.data import cleaning
from tfllm.data import examples as examples_lib
from tfllm.data import lm_pipeline
from tfllm.tasks.seq2seq import data as seq2seq_data
from tfllm.errors import DataError
from tfllm.evaluation import language_model as lm_eval
from tfllm.models import bart
from tfllm.models.sizes import gpt_dims
from tfllm.tasks.language_model import task as lm_loop
from tfllm.training import loop
from tfllm.training import precision


def _copy_shared(source, target):
    """Copies every leaf of ConfigDict `source` whose dotted name `target` has too."""
    for key, value in source.items():
        if key not in target:
            continue
        if hasattr(value, "items"):
            _copy_shared(value, target[key])
        else:
            target[key] = value


def language_model_config(config):
    """The configs/gpt_lm.py config that trains a GPT on `config`'s pairs (model.architecture
    'gpt'): sources are prompts (written through data.prompt_template), targets responses."""
    lm = gpt_lm.get_config()
    _copy_shared(config, lm)
    lm.task = "language_modeling"
    lm.data.format = "pairs"
    lm.data.prompt_column = config.data.source_column
    lm.data.response_column = config.data.target_column
    # A packed block holds at least one whole pair of the longest lengths allowed.
    lm.data.max_seq_length = config.data.max_source_length + config.data.max_target_length
    lm.generation.max_new_tokens = (config.generation.max_new_tokens
                                    or config.data.max_target_length)
    return lm


def tokenizer_files_for(config, train, paths):
    """(vocabulary, merges): the work directory's (resumed run), the config's, or learned
    from the cleaned training sources and targets."""
    if os.path.exists(os.path.join(paths.tokenizer, bpe.VOCAB_FILE)):
        return bart.load_tokenizer_files(paths.tokenizer, flag=paths.tokenizer)
    if config.tokenizer.vocabulary:
        return bart.load_tokenizer_files(config.tokenizer.vocabulary)
    clean = cleaning.clean_fn(config.data.cleaning)
    texts = [r.text for r in train] + [r.text_pair for r in train]
    cleaned = [t.decode("utf-8") for t in clean(texts).numpy()]
    return bart.learn_tokenizer_files(cleaned, config.tokenizer.vocabulary_size,
                                      config.tokenizer.min_frequency)


def resolve(config):
    """A copy of `config` with model dimensions, context and generation length filled in."""
    resolved = config.copy_and_resolve_references()
    with resolved.unlocked():
        backbone = resolved.model.backbone
        backbone.max_sequence_length = bart.context_length(config.model, config.data)
        dims = gpt_dims(config.model.size, config.model.backbone)
        for key in ("num_layers", "num_heads", "hidden_dim", "intermediate_dim"):
            backbone[key] = dims[key]
        resolved.generation.max_new_tokens = (config.generation.max_new_tokens
                                              or config.data.max_target_length)
        resolved.runtime.mixed_precision = precision.resolve(
            config.runtime.mixed_precision, config.runtime.distribution)
    return resolved


def prepare_workdir(config, paths):
    """Reads and checks the data, then writes tokenizer files, resolved config and data
    report (nothing is written before every check has passed).

    Returns:
        (train TokenizedPairs, validation TokenizedPairs, tokenizer, resolved config).
    """
    train, validation, report = seq2seq_data.read_and_split(config.data)
    vocabulary, merges = tokenizer_files_for(config, train, paths)
    tokenizer = bart.build_tokenizer(vocabulary, merges)
    tokenize = lm_pipeline.tokenize_fn(tokenizer, config.data.cleaning)
    train, validation, report = seq2seq_data.finish(train, validation, report, tokenize,
                                                    config.data)
    print(examples_lib.describe(report), flush=True)
    if len(train.records) < config.data.batch_size:
        raise DataError(
            f"{config.data.train}: {len(train.records)} training pairs is less than one "
            f"batch (--config.data.batch_size={config.data.batch_size})")
    paths.make_dirs()
    bpe.save(vocabulary, merges, paths.tokenizer)
    resolved = resolve(config)
    config_lib.save(resolved, paths.config)
    loop.write_json(paths.data_report, report)
    return train, validation, tokenizer, resolved


def fit(config, paths, train, validation, tokenizer, strategy, resume):
    """Packs the pairs, builds and compiles the model under `strategy`, trains it from
    `resume` (a backup, or None).

    Returns:
        (model, validation dataset, packed training pairs, packed validation pairs).
    """
    data = config.data
    special = (tokenizer.start_token_id, tokenizer.end_token_id, tokenizer.pad_token_id)
    train_packed = seq2seq_data.pack(train, *special)
    val_packed = seq2seq_data.pack(validation, *special)

    def stream(start_batch):
        return seq2seq_data.dataset(train_packed, data.batch_size, training=True,
                                    shuffle_buffer=data.shuffle_buffer, seed=config.seed,
                                    start_batch=start_batch)

    val_ds = seq2seq_data.dataset(val_packed, data.batch_size, training=False)
    full_epoch = len(train.records) // data.batch_size
    steps_per_epoch = min(config.train.steps_per_epoch or full_epoch, full_epoch)
    tokens_per_example = float(np.mean([len(s) + len(t) + 4 for s, t in
                                        zip(train.source_ids, train.target_ids, strict=True)]))
    model = loop.train_model(
        config, paths, strategy, resume,
        build=lambda: (bart.build_seq2seq_lm(
            bart.backbone_kwargs(config.model, tokenizer.vocabulary_size())), None),
        recompile=lambda model: lm_loop.compile_model(model, config, steps_per_epoch),
        head=(), stream=stream, val_ds=val_ds, tokens_per_example=tokens_per_example,
        steps_per_epoch=steps_per_epoch, monitor="val_loss", mode="min")
    return model, val_ds, train_packed, val_packed


def train_and_evaluate(config, workdir):
    """Trains the seq2seq model `config` describes; writes everything into `workdir`.

    Started again with the same arguments after a crash or a kill, it resumes
    from the last backup in `workdir/backup/` (see `tfllm.training.backup`).

    Returns:
        The validation report: loss and perplexity of the targets, tokens
        scored, the unigram baseline, and (BART) "generation": BLEU, ROUGE-1/2/L
        and exact match of greedy outputs against the targets; plus wall time
        and the work directory. A GPT run returns the language model's report.
    """
    config_lib.validate(config)
    if config.model.architecture == "gpt":
        return lm_loop.train_and_evaluate(language_model_config(config), workdir)
    from tfllm.tasks.seq2seq.predictor import Seq2Seq  # pylint: disable=import-outside-toplevel

    def train_then_evaluate(paths, strategy, resume):
        train, validation, tokenizer, resolved = prepare_workdir(config, paths)
        with loop.runtime(resolved):
            model, val_ds, train_packed, val_packed = fit(resolved, paths, train, validation,
                                                          tokenizer, strategy, resume)
            loop.save_model(model, paths)
            report = lm_eval.perplexity_report(model, val_ds, "validation")
            _, targets, weights = train_packed
            report["unigram_perplexity"] = lm_eval.unigram_perplexity(
                targets[weights > 0], tokenizer.vocabulary_size(), val_packed[1], val_packed[2])
            report["generation"] = Seq2Seq(paths.root, model=model).score(validation.records)
        return report

    return loop.run_in_workdir(config, workdir, train_then_evaluate)
