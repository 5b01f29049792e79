"""How the next token is chosen: sampler names, their options and checks, keras-hub's samplers."""

import dataclasses

from tfllm.errors import TfllmError


SAMPLERS = ("greedy", "top_k", "top_p", "random", "beam")
WEIGHT_DTYPES = ("float32", "bfloat16")  # see `cast_copy`
# The SamplingOptions fields each sampler reads.
USES = {
    "greedy": (),
    "top_k": ("top_k", "temperature"),
    "top_p": ("top_p", "temperature"),
    "random": ("temperature",),
    "beam": ("num_beams",),
}


class GenerationError(TfllmError, ValueError):
    """A generation argument no decoding could use; the message names it."""


@dataclasses.dataclass(frozen=True)
class SamplingOptions:
    """How the next token is chosen.

    Args:
        sampler: 'greedy', 'top_k', 'top_p' (nucleus), 'random' or 'beam'.
        temperature: divides the logits before sampling ('top_k', 'top_p', 'random').
        top_k: candidates kept by 'top_k'.
        top_p: probability mass kept by 'top_p', in (0, 1].
        num_beams: beams of 'beam'.
    """

    sampler: str = "greedy"
    temperature: float = 1.0
    top_k: int = 40
    top_p: float = 0.9
    num_beams: int = 4

    def check(self):
        """Raises GenerationError naming the first argument out of range."""
        if self.sampler not in SAMPLERS:
            raise GenerationError(f"sampler: unknown sampler {self.sampler!r}; "
                                  f"expected one of {SAMPLERS}")
        if not self.temperature > 0:
            raise GenerationError(f"temperature: got {self.temperature}, expected > 0")
        if not (isinstance(self.top_k, int) and self.top_k >= 1):
            raise GenerationError(f"top_k: got {self.top_k!r}, expected an integer >= 1")
        if not 0 < self.top_p <= 1:
            raise GenerationError(f"top_p: got {self.top_p}, expected a value in (0, 1]")
        if not (isinstance(self.num_beams, int) and self.num_beams >= 1):
            raise GenerationError(f"num_beams: got {self.num_beams!r}, expected an integer >= 1")
        return self

    def key(self):
        """The fields that change the compiled program (unused ones are left out)."""
        return (self.sampler,) + tuple(getattr(self, name) for name in USES[self.sampler])


def build_sampler(options):
    """Returns the keras-hub sampler for `options` (seeded later, per call)."""
    # Here, not at the top: the command line checks sampler names without TensorFlow.
    import keras_hub  # pylint: disable=import-outside-toplevel
    samplers = keras_hub.samplers
    if options.sampler == "greedy":
        return samplers.GreedySampler()
    if options.sampler == "top_k":
        return samplers.TopKSampler(k=options.top_k, seed=0, temperature=options.temperature)
    if options.sampler == "top_p":
        return samplers.TopPSampler(p=options.top_p, seed=0, temperature=options.temperature)
    if options.sampler == "random":
        return samplers.RandomSampler(seed=0, temperature=options.temperature)
    return samplers.BeamSampler(num_beams=options.num_beams)


def sampling_options(defaults, **overrides):
    """SamplingOptions from a run's `generation` config section with `overrides` (None
    values keep the default).

    Raises:
        GenerationError: an override the chosen sampler would ignore (say, a temperature
            for greedy decoding), named.
    """
    fields = {name: defaults[name]
              for name in ("sampler", "temperature", "top_k", "top_p", "num_beams")}
    given = {k: v for k, v in overrides.items() if v is not None}
    fields.update(given)
    options = SamplingOptions(**fields).check()
    for name in given:
        if name != "sampler" and name not in USES[options.sampler]:
            raise GenerationError(f"{name}: the {options.sampler!r} sampler does not use it; "
                                  f"pick a sampler that does (one of {SAMPLERS})")
    return options
