"""The tagger's config checks: light (no TensorFlow), so the command line refuses a bad flag
before it imports a model."""

from tfllm import config as config_lib

TAG_SCHEMES = ("BIO", "BIOES")
# A tagger has no default corpus: its data checks come first, so a missing
# --config.data.train is named as such.
FIRST_CHECKS = [
    ("data.train", config_lib.is_file_source,
     "a CoNLL or .jsonl file of tagged sentences: pass --config.data.train=FILE "
     "(python -m tfllm.tasks.tagging.toy_data FILE writes a toy one)"),
    ("data.validation", lambda v: v == "" or config_lib.is_file_source(v),
     "'' (hold out part of data.train) or a CoNLL or .jsonl file"),
    ("data.scheme", lambda v: v in TAG_SCHEMES, f"one of {TAG_SCHEMES}"),
    ("data.tokens_key", bool, "the JSON Lines key of the word list"),
    ("data.tags_key", bool, "the JSON Lines key of the tag list"),
    ("data.padding", lambda v: v in config_lib.PADDINGS, f"one of {config_lib.PADDINGS}"),
    ("data.max_seq_length", lambda v: 4 <= v <= 512, "an integer in [4, 512]"),
    *config_lib.ENCODER_CHECKS,
]


def check_config(config):
    """Raises ConfigError on the first field no run of this task could use."""
    config_lib.check_common(config, first=FIRST_CHECKS)
    config_lib.check_encoder_run(config)


# The optional flags of each command this task's runs read (`Task.command_flags`).
COMMAND_FLAGS = {"predict": ("text", "input"), "evaluate": ("tokens_key", "tags_key")}
