import keras
import numpy as np
import pytest

import tfllm.keras_objects  # noqa: F401  registers WarmupDecay
from tfllm.training.schedules import WarmupDecay


def lr(schedule, step):
    return float(schedule(step))


@pytest.mark.parametrize("decay", ["linear", "cosine", "constant"])
def test_warmup_is_linear_from_zero_to_peak(decay):
    schedule = WarmupDecay(1e-3, warmup_steps=10, total_steps=110, decay=decay)
    assert lr(schedule, 0) == 0.0
    assert lr(schedule, 5) == pytest.approx(5e-4)
    assert lr(schedule, 10) == pytest.approx(1e-3)


def test_linear_decay_mid_and_end():
    schedule = WarmupDecay(1e-3, warmup_steps=10, total_steps=110, decay="linear")
    assert lr(schedule, 60) == pytest.approx(5e-4)
    assert lr(schedule, 110) == pytest.approx(0.0)
    assert lr(schedule, 500) == pytest.approx(0.0)  # stays at the end value


def test_cosine_decay_mid_and_end_with_floor():
    schedule = WarmupDecay(1e-3, warmup_steps=10, total_steps=110, decay="cosine", end_ratio=0.1)
    assert lr(schedule, 60) == pytest.approx(1e-4 + 0.9e-3 * 0.5)
    assert lr(schedule, 35) == pytest.approx(1e-4 + 0.9e-3 * 0.5 * (1 + np.cos(np.pi / 4)))
    assert lr(schedule, 110) == pytest.approx(1e-4)


def test_constant_after_warmup():
    schedule = WarmupDecay(1e-3, warmup_steps=10, total_steps=110, decay="constant")
    assert lr(schedule, 60) == pytest.approx(1e-3)
    assert lr(schedule, 110) == pytest.approx(1e-3)


def test_no_warmup_starts_at_peak():
    assert lr(WarmupDecay(2e-3, warmup_steps=0, total_steps=100), 0) == pytest.approx(2e-3)


def test_serialization_round_trip():
    schedule = WarmupDecay(1e-3, warmup_steps=7, total_steps=50, decay="cosine", end_ratio=0.2)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert isinstance(restored, WarmupDecay)
    assert restored.get_config() == schedule.get_config()
    for step in (0, 3, 7, 20, 50):
        assert lr(restored, step) == pytest.approx(lr(schedule, step))


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="decay"):
        WarmupDecay(1e-3, 1, 10, decay="step")
    with pytest.raises(ValueError, match="total_steps"):
        WarmupDecay(1e-3, 10, 5)
