"""`tfllm generate`: continue prompts with a trained language model, one JSON object per line."""

import json

from absl import flags

from tfllm.cli import app
from tfllm.generation.sampling import SAMPLERS, WEIGHT_DTYPES

_WORKDIR = flags.DEFINE_string("workdir", None, "Work directory of a finished language-model run.",
                               required=True)
_PROMPT = flags.DEFINE_multi_string("prompt", [], "A prompt; repeat for several (one batch).")
_MAX_NEW_TOKENS = flags.DEFINE_integer(
    "max_new_tokens", None, "Tokens to generate at most; default: the run's "
    "generation.max_new_tokens.")
_MAX_LENGTH = flags.DEFINE_integer(
    "max_length", None, "Alternatively, total tokens per text, prompt included.")
_SAMPLER = flags.DEFINE_string("sampler", None, f"One of {SAMPLERS}; default: the run's.")
_TEMPERATURE = flags.DEFINE_float("temperature", None, "Sampling temperature (> 0).")
_TOP_K = flags.DEFINE_integer("top_k", None, "Candidates kept by the top_k sampler.")
_TOP_P = flags.DEFINE_float("top_p", None, "Probability mass kept by the top_p sampler.")
_NUM_BEAMS = flags.DEFINE_integer("num_beams", None, "Beams of the beam sampler.")
_SEED = flags.DEFINE_integer("seed", None, "Seed that makes random samplers reproducible.")
_WEIGHTS_DTYPE = flags.DEFINE_enum(
    "weights_dtype", None, WEIGHT_DTYPES, "Decode with the weights in this dtype; default: the "
    "run's generation.weights_dtype. bfloat16 halves the bytes read per token (faster at "
    "small batches) but can change a greedy text where two tokens are nearly tied.")
_DRAFT_TOKENS = flags.DEFINE_integer(
    "draft_tokens", None, "Greedy only: draft this many tokens per float32 pass with a bfloat16 "
    "copy (float32's text, faster at batch 1); 0 = off; default: the run's "
    "generation.draft_tokens.")
_RAW = flags.DEFINE_boolean(
    "raw", False, "Do not write prompts through the run's prompt template (pair-trained runs).")


def main(argv):
    import tfllm  # pylint: disable=import-outside-toplevel

    if not _PROMPT.value:
        raise app.TfllmError("--prompt: nothing to generate from; pass --prompt=TEXT (repeatable)")
    if _MAX_NEW_TOKENS.value is not None and _MAX_LENGTH.value is not None:
        raise app.TfllmError("--max_new_tokens and --max_length: give one, not both")
    from tfllm.workdir import finished_run  # pylint: disable=import-outside-toplevel

    if finished_run(_WORKDIR.value)[1].task == "seq2seq":
        return _generate_targets(tfllm.load(_WORKDIR.value))
    generator = tfllm.pipeline("text-generation", model=_WORKDIR.value)
    if _WEIGHTS_DTYPE.value or _DRAFT_TOKENS.value is not None:
        model = generator.model
        model.set_weights_dtype(
            _WEIGHTS_DTYPE.value or model.weights_dtype,
            model.draft_tokens if _DRAFT_TOKENS.value is None else _DRAFT_TOKENS.value)
    results = generator(
        _PROMPT.value, max_new_tokens=_MAX_NEW_TOKENS.value, max_length=_MAX_LENGTH.value,
        sampler=_SAMPLER.value, temperature=_TEMPERATURE.value, top_k=_TOP_K.value,
        top_p=_TOP_P.value, num_beams=_NUM_BEAMS.value, seed=_SEED.value,
        apply_template=False if _RAW.value else None)
    for prompt, result in zip(_PROMPT.value, results):
        print(json.dumps({"prompt": prompt, **result}, ensure_ascii=False))


def _generate_targets(seq2seq):
    """Seq2seq runs: each --prompt is a source; prints {"source", "generated_text"} per source."""
    for name, flag in (("max_length", _MAX_LENGTH), ("weights_dtype", _WEIGHTS_DTYPE),
                       ("draft_tokens", _DRAFT_TOKENS), ("raw", _RAW)):
        if flag.value:
            raise app.TfllmError(f"--{name}: not used by seq2seq runs; drop the flag")
    targets = seq2seq.generate(
        _PROMPT.value, max_new_tokens=_MAX_NEW_TOKENS.value, seed=_SEED.value,
        sampler=_SAMPLER.value, temperature=_TEMPERATURE.value, top_k=_TOP_K.value,
        top_p=_TOP_P.value, num_beams=_NUM_BEAMS.value)
    for source, target in zip(_PROMPT.value, targets, strict=True):
        print(json.dumps({"source": source, "generated_text": target}, ensure_ascii=False))


def run(argv):
    app.run(main, argv)
