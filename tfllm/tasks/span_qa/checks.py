"""Span QA's config checks: light (no TensorFlow), so the command line refuses a bad flag
before it imports a model."""

from tfllm import config as config_lib
from tfllm.errors import ConfigError

# Checked first (there is no default corpus); its text is read as written (answers are cut
# from it by offsets), so it has no cleaning section.
FIRST_CHECKS = [
    ("data.train", config_lib.is_file_source,
     "a SQuAD JSON or JSON Lines file: pass --config.data.train=FILE "
     "(python -m tfllm.tasks.span_qa.toy_data FILE writes a toy one)"),
    ("data.validation", lambda v: v == "" or config_lib.is_file_source(v),
     "'' (hold out part of data.train) or a SQuAD JSON or JSON Lines file"),
    ("data.padding", lambda v: v in config_lib.PADDINGS, f"one of {config_lib.PADDINGS}"),
    ("data.max_seq_length", lambda v: 8 <= v <= 512, "an integer in [8, 512]"),
    ("data.max_query_length", config_lib.positive, "a positive integer"),
    ("data.doc_stride", config_lib.positive, "a positive integer"),
    ("data.max_answer_length", config_lib.positive, "a positive integer"),
    ("data.n_best", config_lib.positive, "a positive integer"),
    ("data.allow_no_answer", lambda v: v in ("auto", "yes", "no"), "'auto', 'yes' or 'no'"),
    *config_lib.ENCODER_CHECKS,
]


def check_windows(data):
    """A window must hold the question, 3 special tokens and context; the stride must not
    skip context tokens."""
    room = data.max_seq_length - data.max_query_length - 3
    if room < 1:
        raise ConfigError("data.max_query_length", f"got {data.max_query_length}, expected "
                          f"at most data.max_seq_length - 4 = {data.max_seq_length - 4}")
    if data.doc_stride > room:
        raise ConfigError("data.doc_stride", f"got {data.doc_stride}, expected at most "
                          f"data.max_seq_length - data.max_query_length - 3 = {room}")


def check_config(config):
    """Raises ConfigError on the first field no run of this task could use."""
    config_lib.check_common(config, first=FIRST_CHECKS, skip=("data.cleaning.",))
    check_windows(config.data)
    config_lib.check_encoder_run(config)


# The optional flags of each command this task's runs read (`Task.command_flags`).
COMMAND_FLAGS = {"predict": ("question", "context", "input")}
