import keras
import numpy as np
import pytest
from ml_collections import ConfigDict

from tests.helpers import TOY_BACKBONE
from tfllm.models import bert_backbone as bert
from tfllm.tasks.classification import head as heads
from tfllm.training import optimizers


def train_config(**overrides):
    config = ConfigDict({
        "epochs": 2, "learning_rate": 0.1, "warmup_fraction": 0.0, "decay": "constant",
        "end_learning_rate_ratio": 0.0, "weight_decay": 0.5, "clipnorm": 1.0, "ema_momentum": 0.0,
        "grad_accum_steps": 1})
    config.update(overrides)
    return config


def toy_classifier():
    backbone = bert.build_backbone(
        {"vocabulary_size": 20, **TOY_BACKBONE, "dropout": 0.0, "max_sequence_length": 8})
    return heads.build_classifier(backbone, num_classes=3, dropout=0.0)


def test_weight_decay_skips_layernorm_bias_and_embeddings():
    model = toy_classifier()
    optimizer = optimizers.build_optimizer(train_config(), steps_per_epoch=5)
    before = {v.path: np.array(v.numpy()) for v in model.trainable_variables}
    # With zero gradients Adam's update is exactly 0, so any change is weight decay.
    optimizer.apply_gradients(
        [(keras.ops.zeros_like(v), v) for v in model.trainable_variables])
    decayed, kept = set(), set()
    for v in model.trainable_variables:
        if np.allclose(v.numpy(), before[v.path]):
            kept.add(v.name)
        else:
            decayed.add(v.name)
            np.testing.assert_allclose(v.numpy(), before[v.path] * (1 - 0.5 * 0.1), rtol=1e-5)
    assert decayed == {"kernel"}
    assert {"gamma", "beta", "bias", "embeddings"} <= kept


def test_schedule_spans_epochs_and_warmup():
    optimizer = optimizers.build_optimizer(
        train_config(epochs=3, warmup_fraction=0.1, decay="linear"), steps_per_epoch=100)
    schedule = optimizer._learning_rate  # pylint: disable=protected-access
    assert schedule.total_steps == 300
    assert schedule.warmup_steps == 30
    assert float(schedule(30)) == pytest.approx(0.1)


def test_clipnorm_zero_means_no_clipping():
    assert optimizers.build_optimizer(train_config(clipnorm=0.0), 5).global_clipnorm is None
    assert optimizers.build_optimizer(train_config(clipnorm=2.0), 5).global_clipnorm == 2.0
