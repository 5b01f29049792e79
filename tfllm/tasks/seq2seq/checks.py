"""Seq2seq's config checks: light (no TensorFlow), so the command line refuses a bad flag
before it imports a model."""

import os

from tfllm import config as config_lib
from tfllm.errors import ConfigError
from tfllm.models.sizes import GPT_SIZES

SEQ2SEQ_SUFFIXES = (".tsv", ".csv", ".jsonl", ".json")
SEQ2SEQ_ARCHITECTURES = ("bart", "gpt")
CHECKS = [
    ("data.train", lambda v: config_lib.is_file_source(v) and v.lower().endswith(SEQ2SEQ_SUFFIXES),
     "a .tsv or .jsonl file of source/target pairs: pass --config.data.train=FILE "
     "(python -m tfllm.tasks.seq2seq.toy_data FILE writes a toy one)"),
    ("data.validation", lambda v: v == "" or v.lower().endswith(SEQ2SEQ_SUFFIXES),
     "'' (hold out part of data.train) or a .tsv or .jsonl file"),
    ("data.source_column", bool, "the TSV column / JSON key of the sources"),
    ("data.target_column", bool, "the TSV column / JSON key of the targets"),
    ("data.max_source_length", lambda v: 3 <= v <= 8192, "an integer in [3, 8192]"),
    ("data.max_target_length", lambda v: 2 <= v <= 8192, "an integer in [2, 8192]"),
    ("data.prompt_template", lambda v: v.count("{prompt}") == 1,
     "a template containing {prompt} once"),
    ("model.architecture", lambda v: v in SEQ2SEQ_ARCHITECTURES,
     f"one of {SEQ2SEQ_ARCHITECTURES}"),
    ("tokenizer.vocabulary_size", lambda v: v >= 261,
     "an integer >= 261 (256 bytes + special tokens)"),
    ("tokenizer.min_frequency", config_lib.positive, "a positive integer"),
    ("model.size", lambda v: v in GPT_SIZES, f"one of {tuple(GPT_SIZES)}"),
    ("model.backbone.max_sequence_length", config_lib.non_negative,
     "0 (what the data needs) or a number of positions"),
    ("generation.max_new_tokens", config_lib.non_negative, "0 (= data.max_target_length) or a count"),
] + [check for check in config_lib.GENERATION_CHECKS
     if check[0] not in ("generation.max_new_tokens", "generation.weights_dtype",
                         "generation.draft_tokens")]


def check_config(config):
    """Raises ConfigError on the first field no run of this task could use."""
    config_lib.check_common(config, first=CHECKS[:1])
    config_lib.check_all(config, CHECKS[1:])
    for field in ("data.train", "data.validation"):
        spec = config.data[field.split(".")[1]]
        if spec and not os.path.isfile(spec):
            raise ConfigError(field, f"data file not found: {spec}")
    bart = config.model.architecture == "bart"
    if bart and config.model.init_from:
        raise ConfigError("model.init_from", "BART runs start from random weights (imported "
                          "BART checkpoints are not supported yet); use '' or "
                          "--config.model.architecture=gpt")
    config_lib.check_vocabulary(config, directory=True)
    config_lib.check_heads(config, GPT_SIZES)
    context = config.model.backbone.max_sequence_length
    new_tokens = config.generation.max_new_tokens or config.data.max_target_length
    if bart and context:
        for field, needed in (("data.max_source_length", config.data.max_source_length),
                              ("data.max_target_length", config.data.max_target_length + 2),
                              ("generation.max_new_tokens", new_tokens + 2)):
            if needed > context:
                raise ConfigError("model.backbone.max_sequence_length",
                                  f"got {context}, expected 0 or at least {needed} (for "
                                  f"--config.{field})")
    elif bart and new_tokens + 2 > max(config.data.max_source_length,
                                       config.data.max_target_length + 2):
        raise ConfigError("generation.max_new_tokens",
                          f"got {new_tokens}, more than the decoder's positions allow "
                          "(data.max_target_length, or data.max_source_length - 2)")


# The optional flags of each command this task's runs read (`Task.command_flags`): the
# language model's, less --max_length, --weights_dtype, --draft_tokens and --raw.
COMMAND_FLAGS = {
    "predict": ("text", "input", "source_column"),
    "evaluate": ("generate", "max_examples", "source_column", "target_column"),
    "generate": ("prompt", "max_new_tokens", "sampler", "temperature", "top_k", "top_p",
                 "num_beams", "seed"),
}
