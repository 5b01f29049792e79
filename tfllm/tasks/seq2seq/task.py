"""Text to text (`task: seq2seq`, configs/seq2seq.py): source/target pairs to a BART
encoder-decoder, or to a GPT trained on them as prompt -> response.

The BART route keeps the run skeleton of every task: config checked; data read and
checked, too-long pairs included, before anything is written; tokenizer learned (or
loaded); the language models' optimizer, loss and perplexity. The GPT route
(`model.architecture=gpt`) is the language-model task's pairs route itself, on a
translated config: its run is a language-model run, found through the registry.
"""

import os

import numpy as np

from tfllm import config as config_lib
from tfllm.configs import gpt_lm
from tfllm.data import bpe
from tfllm.data import cleaning
from tfllm.data import examples as examples_lib
from tfllm.data import lm_pipeline
from tfllm.errors import DataError
from tfllm.evaluation import language_model as lm_eval
from tfllm.models import bart
from tfllm.models.sizes import gpt_dims
from tfllm.tasks import base
from tfllm.tasks.seq2seq import checks
from tfllm.tasks.seq2seq import data as seq2seq_data
from tfllm.tasks.seq2seq import serving
from tfllm.tasks.seq2seq.pipeline import Text2TextGenerationPipeline
from tfllm.tasks.seq2seq.predictor import Seq2Seq
from tfllm.training import precision
from tfllm.training import run
from tfllm.training import compiling


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


class Seq2SeqTask(base.Task):
    """Source -> target with BART: AdamW on target-token cross-entropy, the validation loss
    picks the best epoch; evaluation reports perplexity and BLEU / ROUGE / exact match of
    greedy outputs."""

    name = "seq2seq"
    monitor = ("val_loss", "min")
    pipelines = {"text2text-generation": Text2TextGenerationPipeline}
    try_command = "tfllm predict --workdir={workdir} --text='a source text'"
    generates = True
    evaluate_flags = " --generate"

    predictor = Seq2Seq
    export_parts = staticmethod(serving.export_parts)
    command_flags = checks.COMMAND_FLAGS

    def check_config(self, config):
        checks.check_config(config)

    def train(self, config, workdir):
        config_lib.validate(config)
        if config.model.architecture == "gpt":
            from tfllm.tasks import registry  # pylint: disable=import-outside-toplevel
            lm = language_model_config(config)
            return registry.task_for(lm).train(lm, workdir)
        return super().train(config, workdir)

    def prepare(self, config, paths):
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
        resolved = resolve(config)
        run.save_prepared(paths, resolved, report, vocabulary, merges)
        return base.Prepared(resolved, (train, validation), tokenizer, paths=paths)

    def datasets(self, prepared):
        config, tokenizer = prepared.config, prepared.tokenizer
        train, validation = prepared.data
        data = config.data
        special = (tokenizer.start_token_id, tokenizer.end_token_id, tokenizer.pad_token_id)
        train_packed = seq2seq_data.pack(train, *special)
        val_packed = seq2seq_data.pack(validation, *special)

        def stream(start_batch):
            return seq2seq_data.dataset(train_packed, data.batch_size, training=True,
                                        shuffle_buffer=data.shuffle_buffer, seed=config.seed,
                                        start_batch=start_batch)

        val_ds = seq2seq_data.dataset(val_packed, data.batch_size, training=False)
        tokens_per_example = float(np.mean([len(s) + len(t) + 4 for s, t in
                                            zip(train.source_ids, train.target_ids,
                                                strict=True)]))
        return base.Datasets(stream, val_ds, run.steps_per_epoch(config, len(train.records)),
                             tokens_per_example, extra=(train_packed, val_packed))

    def build_model(self, prepared):
        kwargs = bart.backbone_kwargs(prepared.config.model, prepared.tokenizer.vocabulary_size())
        return bart.build_seq2seq_lm(kwargs), None

    def compile_model(self, model, config, steps_per_epoch):
        compiling.compile_token_model(model, config, steps_per_epoch)

    def evaluate(self, model, prepared, datasets):
        train_packed, val_packed = datasets.extra
        report = lm_eval.perplexity_report(model, datasets.validation, "validation")
        _, targets, weights = train_packed
        report["unigram_perplexity"] = lm_eval.unigram_perplexity(
            targets[weights > 0], prepared.tokenizer.vocabulary_size(), val_packed[1],
            val_packed[2])
        report["generation"] = Seq2Seq(prepared.paths.root, model=model).score(
            prepared.data[1].records)
        return report

    def summary(self, report):
        scores = report["generation"]
        return (f"validation perplexity {report['perplexity']:.2f} on {report['tokens']} "
                f"target tokens; greedy outputs of {scores['examples']} sources: bleu "
                f"{scores['bleu']:.4f}  rougeL {scores['rougeL']:.4f}  exact_match "
                f"{scores['exact_match']:.4f} in {base.minutes(report)}")

    def print_report(self, report):
        lm_eval.print_report(report)

    def predict_records(self, predictor, request):
        texts, _ = request.text_inputs(predictor)  # --text / --input are sources
        length = min(predictor.config.data.max_source_length, predictor.context_length)
        cut = sum(len(ids) > length - 2 for ids in predictor.tokenize(texts))
        note = base.cut_note(cut, len(texts), length, what="sources",
                             field="data.max_source_length")
        if note:
            base.progress(note)
        for text, target in zip(texts, predictor.generate(texts), strict=True):
            yield {"source": text, "target": target}

    def generate_records(self, predictor, prompts, options):
        """Each prompt is a source; {"source", "generated_text"} per source (the command
        line refuses the flags `command_flags` leaves out)."""
        targets = predictor.generate(
            prompts, max_new_tokens=options.max_new_tokens, seed=options.seed,
            sampler=options.sampler, temperature=options.temperature, top_k=options.top_k,
            top_p=options.top_p, num_beams=options.num_beams)
        for source, target in zip(prompts, targets, strict=True):
            yield {"source": source, "generated_text": target}


TASK = Seq2SeqTask()
