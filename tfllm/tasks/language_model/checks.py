"""The language model's config checks: light (no TensorFlow), so the command line refuses
a bad flag before it imports a model."""

from tfllm import config as config_lib
from tfllm.errors import ConfigError, TfllmError
from tfllm.models.sizes import GPT_SIZES

# How data.train is read: "auto" decides from the file (prompt/response columns or not).
FORMATS = ("auto", "documents", "pairs")
# How texts share a packed block (tfllm.data.packing): each on its own, or one token stream.
PACKINGS = ("documents", "stream")

CHECKS = [
    ("data.max_seq_length", lambda v: 4 <= v <= 8192, "an integer in [4, 8192]"),
    ("data.format", lambda v: v in FORMATS, f"one of {FORMATS}"),
    ("data.packing", lambda v: v in PACKINGS, f"one of {PACKINGS}"),
    ("data.prompt_template", lambda v: v.count("{prompt}") == 1,
     "a template containing {prompt} once"),
    ("tokenizer.vocabulary_size", lambda v: v >= 257, "an integer >= 257 (256 bytes + end)"),
    ("tokenizer.min_frequency", config_lib.positive, "a positive integer"),
    ("model.size", lambda v: v in GPT_SIZES, f"one of {tuple(GPT_SIZES)}"),
    ("model.backbone.max_sequence_length", config_lib.non_negative,
     "0 (= data.max_seq_length) or a context length"),
    *config_lib.GENERATION_CHECKS,
]


def check_config(config):
    """Raises ConfigError on the first field no run of this task could use."""
    config_lib.check_common(config)
    config_lib.check_all(config, CHECKS)
    config_lib.check_lora(config)
    config_lib.check_data_files(config)
    config_lib.check_init_from(config)
    config_lib.check_vocabulary(config, directory=True)
    config_lib.check_heads(config, GPT_SIZES)
    context = config.model.backbone.max_sequence_length
    if context and context < config.data.max_seq_length:
        raise ConfigError("model.backbone.max_sequence_length",
                          f"got {context}, expected 0 or at least data.max_seq_length "
                          f"({config.data.max_seq_length})")


# The optional flags of each command this task's runs read (`Task.command_flags`).
COMMAND_FLAGS = {
    "evaluate": ("generate", "max_examples", "text_column", "prompt_column", "response_column"),
    "generate": ("prompt", "max_new_tokens", "max_length", "sampler", "temperature", "top_k",
                 "top_p", "num_beams", "seed", "weights_dtype", "draft_tokens", "raw"),
}


def check_flags(command, given, config):
    """`tfllm predict` is not for language models (`Task.check_flags`)."""
    if command == "predict":
        raise TfllmError("--workdir: a language model predicts no labels; use tfllm "
                         "generate --workdir=WORKDIR --prompt=TEXT")
