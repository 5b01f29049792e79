"""Text classification's config checks: light (no TensorFlow), so the command line refuses
a bad flag before it imports a model."""

from tfllm import config as config_lib

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
