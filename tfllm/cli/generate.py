"""`tfllm generate`: continue prompts with a trained language model, one JSON object per line."""

import json
import types

from absl import flags

from tfllm.cli import app
from tfllm.cli import checks
from tfllm.generation import sampling
from tfllm.generation.sampling import SAMPLERS, WEIGHT_DTYPES

_WORKDIR = flags.DEFINE_string("workdir", None, "Work directory of a finished language-model run.",
                               required=True)
_PROMPT = flags.DEFINE_multi_string("prompt", [], "A prompt; repeat for several (one batch).")
_MAX_NEW_TOKENS = flags.DEFINE_integer(
    "max_new_tokens", None, "Tokens to generate at most; default: the run's "
    "generation.max_new_tokens.", lower_bound=1)
_MAX_LENGTH = flags.DEFINE_integer(
    "max_length", None, "Alternatively, total tokens per text, prompt included.", lower_bound=1)
_SAMPLER = flags.DEFINE_string("sampler", None, f"One of {SAMPLERS}; default: the run's.")
_TEMPERATURE = flags.DEFINE_float("temperature", None, "Sampling temperature (> 0).")
_TOP_K = flags.DEFINE_integer("top_k", None, "Candidates kept by the top_k sampler.",
                              lower_bound=1)
_TOP_P = flags.DEFINE_float("top_p", None, "Probability mass kept by the top_p sampler, in "
                            "(0, 1].")
_NUM_BEAMS = flags.DEFINE_integer("num_beams", None, "Beams of the beam sampler.", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", None, "Seed that makes random samplers reproducible.",
                             lower_bound=0)
_WEIGHTS_DTYPE = flags.DEFINE_enum(
    "weights_dtype", None, WEIGHT_DTYPES, "Decode with the weights in this dtype; default: the "
    "run's generation.weights_dtype. bfloat16 halves the bytes read per token (faster at "
    "small batches) but can change a greedy text where two tokens are nearly tied.")
_DRAFT_TOKENS = flags.DEFINE_integer(
    "draft_tokens", None, "Greedy only: draft this many tokens per float32 pass with a bfloat16 "
    "copy (float32's text, faster at batch 1); 0 = off; default: the run's "
    "generation.draft_tokens.", lower_bound=0)
_RAW = flags.DEFINE_boolean(
    "raw", False, "Do not write prompts through the run's prompt template (pair-trained runs).")


def check_flags():
    """The run's config, every flag checked that can be without the run's task (the
    sampling options against the run's generation defaults, as generation will)."""
    config = checks.finished_run(_WORKDIR.value)
    if not _PROMPT.value:
        raise app.TfllmError("--prompt: nothing to generate from; pass --prompt=TEXT (repeatable)")
    if _MAX_NEW_TOKENS.value is not None and _MAX_LENGTH.value is not None:
        raise app.TfllmError("--max_new_tokens and --max_length: give one, not both")
    if config is not None and "generation" in config:
        try:
            sampling.sampling_options(config.generation, **{
                name: _OPTIONS[name].value
                for name in ("sampler", "temperature", "top_k", "top_p", "num_beams")})
        except sampling.GenerationError as error:
            raise app.TfllmError(f"--{error}") from error
    return config


def main(argv):
    config = check_flags()
    used = ["prompt"] + checks.given(*_OPTIONS)
    task = checks.task_flags("generate", _WORKDIR.value, config, used)
    predictor = task.load(_WORKDIR.value)
    options = types.SimpleNamespace(**{name: flag.value for name, flag in _OPTIONS.items()})
    for record in task.generate_records(predictor, _PROMPT.value, options):
        print(json.dumps(record, ensure_ascii=False))


# The generation flags a task's `generate_records` reads, by name.
_OPTIONS = {"max_new_tokens": _MAX_NEW_TOKENS, "max_length": _MAX_LENGTH, "sampler": _SAMPLER,
            "temperature": _TEMPERATURE, "top_k": _TOP_K, "top_p": _TOP_P,
            "num_beams": _NUM_BEAMS, "seed": _SEED, "weights_dtype": _WEIGHTS_DTYPE,
            "draft_tokens": _DRAFT_TOKENS, "raw": _RAW}


def run(argv):
    app.run(main, argv)
