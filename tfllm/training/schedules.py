"""Learning-rate schedule: linear warmup, then linear, cosine or constant decay."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfllm")
class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Rises linearly from 0 to `peak` over `warmup_steps`, then decays to `end`.

    Args:
        peak: the learning rate at the end of warmup.
        warmup_steps: steps of linear warmup (0 starts at `peak`).
        total_steps: the step at which decay reaches `peak * end_ratio`; the
            rate stays there afterwards.
        decay: "linear", "cosine" or "constant".
        end_ratio: the final rate as a share of `peak`.

    Example:
    >>> schedule = WarmupDecay(1e-3, warmup_steps=10, total_steps=110)
    >>> float(schedule(60))  # half way through linear decay
    0.0005
    """

    def __init__(self, peak, warmup_steps, total_steps, decay="linear", end_ratio=0.0):
        if decay not in ("linear", "cosine", "constant"):
            raise ValueError(f"decay must be 'linear', 'cosine' or 'constant', got {decay!r}")
        if total_steps < warmup_steps:
            raise ValueError(f"total_steps {total_steps} < warmup_steps {warmup_steps}")
        self.peak = peak
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.decay = decay
        self.end_ratio = end_ratio

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = ops.cast(max(self.warmup_steps, 1), "float32")
        decay_steps = ops.cast(max(self.total_steps - self.warmup_steps, 1), "float32")
        progress = ops.clip((step - self.warmup_steps) / decay_steps, 0.0, 1.0)
        if self.decay == "linear":
            factor = 1.0 - progress
        elif self.decay == "cosine":
            factor = 0.5 * (1.0 + ops.cos(math.pi * progress))
        else:
            factor = ops.ones_like(progress)
        decayed = self.peak * (self.end_ratio + (1.0 - self.end_ratio) * factor)
        return ops.where(step < self.warmup_steps, self.peak * step / warmup, decayed)

    def get_config(self):
        return {
            "peak": self.peak,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
            "decay": self.decay,
            "end_ratio": self.end_ratio,
        }
