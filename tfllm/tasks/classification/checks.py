"""Text classification's config checks: light (no TensorFlow), so the command line refuses
a bad flag before it imports a model."""

from tfllm import config as config_lib
from tfllm.errors import TfllmError

POOLINGS = ("cls", "mean")

CHECKS = [
    ("data.padding", lambda v: v in config_lib.PADDINGS, f"one of {config_lib.PADDINGS}"),
    ("data.max_seq_length", lambda v: 4 <= v <= 512, "an integer in [4, 512]"),
    *config_lib.ENCODER_CHECKS,
    ("model.pooling", lambda v: v in POOLINGS, f"one of {POOLINGS}"),
    ("train.label_smoothing", config_lib.fraction, "a value in [0, 1)"),
]


def check_config(config):
    """Raises ConfigError on the first field no run of this task could use."""
    config_lib.check_common(config)
    config_lib.check_all(config, CHECKS)
    config_lib.check_encoder_run(config)


# The optional flags of each command this task's runs read (`Task.command_flags`).
COMMAND_FLAGS = {
    "predict": ("text", "text_pair", "input", "top_k", "text_column", "text_pair_column"),
    "evaluate": ("text_column", "text_pair_column", "label_column"),
}


def check_flags(command, given, config):
    """A second segment only for a run trained on pairs, and then one per text
    (`Task.check_flags`)."""
    pairs = bool(config is not None and config.data.get("text_pair_column"))
    for name in ("text_pair", "text_pair_column"):
        if name in given and not pairs:
            raise TfllmError(f"--{name}: this run was trained on single texts (its "
                             "data.text_pair_column is empty)")
    if command == "predict" and pairs and "text" in given and "text_pair" not in given:
        raise TfllmError("--text_pair: this run was trained on text pairs; give one "
                         "--text_pair per --text")
