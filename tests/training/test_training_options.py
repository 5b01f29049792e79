"""Training options that must compute what the plain path computes, and the NaN stop."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfllm
from tests.helpers import smoke_config, toy_topics, write_csv
from tfllm.training import callbacks as callbacks_lib
from tfllm.tasks.classification import task as classification
from tfllm.models import encoder
from tfllm.training import run
from tfllm.training import precision


def tiny_classifier(config):
    keras.utils.set_random_seed(0)
    model, _ = classification.build(config, vocabulary_size=50, num_labels=3)
    classification.TASK.compile_model(model, config, steps_per_epoch=4)
    return model


@pytest.fixture
def float64():
    """Float64 weights and math: AdamW's first step divides each gradient by its own
    magnitude, which turns float32 rounding of near-zero gradients into visible
    differences; in float64 the two paths must agree to 1e-9."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float64")
    yield
    keras.mixed_precision.set_global_policy(previous)


def test_accumulating_k_batches_is_one_k_times_larger_batch(float64):
    config = smoke_config()
    config.train.decay, config.train.warmup_fraction = "constant", 0.0  # same rate every step
    config.model.backbone.dropout = config.model.head_dropout = 0.0
    config.train.clipnorm = 0.0  # keras' global clipping mixes float32 into float64 math
    rng = np.random.default_rng(0)
    x = {"token_ids": rng.integers(5, 50, (8, 12)).astype(np.int32),
         "segment_ids": np.zeros((8, 12), np.int32), "padding_mask": np.ones((8, 12), bool)}
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]

    one_batch = tiny_classifier(config)
    one_batch.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    config.train.grad_accum_steps = 4
    accumulated = tiny_classifier(config)
    start = [w.numpy() for w in accumulated.weights]
    accumulated.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)

    assert int(accumulated.optimizer.iterations.numpy()) == 1  # four batches, one update
    moved = 0
    for ours, theirs, before in zip(accumulated.weights, one_batch.weights, start, strict=True):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=0, atol=1e-9)
        moved += not np.array_equal(ours.numpy(), before)
    assert moved > 10  # the update happened, on most weights


def test_embedding_tables_get_the_adamw_step_of_their_dense_gradient(float64):
    config = smoke_config()
    config.model.backbone.dropout = config.model.head_dropout = 0.0
    config.train.clipnorm = 0.0
    x = {"token_ids": np.array([[2, 7, 7, 7, 9, 3]] * 4, np.int32),  # repeated tokens
         "segment_ids": np.zeros((4, 6), np.int32), "padding_mask": np.ones((4, 6), bool)}
    y = np.eye(3)[[0, 1, 2, 0]]
    ours = tiny_classifier(config)
    reference = tiny_classifier(config)
    with tf.GradientTape() as tape:
        loss = reference.compute_loss(x=x, y=y, y_pred=reference(x, training=True))
    gradients = [tf.convert_to_tensor(g) for g in
                 tape.gradient(loss, reference.trainable_weights)]
    stock = keras.optimizers.AdamW(learning_rate=5e-4, weight_decay=0.0, beta_2=0.999,
                                   epsilon=1e-6)
    stock.apply(gradients, reference.trainable_weights)
    config.train.weight_decay = 0.0
    classification.TASK.compile_model(ours, config, steps_per_epoch=1)
    ours.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for mine, theirs in zip(ours.trainable_weights, reference.trainable_weights, strict=True):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=0, atol=1e-9,
                                   err_msg=mine.path)


def predictions_after_training(config, x, y, x_eval):
    with run.runtime(config):
        model = tiny_classifier(config)
        model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
        return model, np.asarray(keras.ops.softmax(model(x_eval, training=False)), np.float32)


def no_dropout_and_a_batch(seed):
    """The smoke config without dropout, and 8 random examples of 12 tokens, 3 classes."""
    config = smoke_config()
    config.model.backbone.dropout = config.model.head_dropout = 0.0
    rng = np.random.default_rng(seed)
    x = {"token_ids": rng.integers(5, 50, (8, 12)).astype(np.int32),
         "segment_ids": np.zeros((8, 12), np.int32), "padding_mask": np.ones((8, 12), bool)}
    return config, x, np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]


def test_mixed_precision_trains_like_float32():
    config, x, y = no_dropout_and_a_batch(1)
    _, reference = predictions_after_training(config, x, y, x)

    config.runtime.mixed_precision = "mixed_bfloat16"
    model, probabilities = predictions_after_training(config, x, y, x)
    assert model.compute_dtype == "bfloat16" and not isinstance(
        model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert all(w.dtype == "float32" for w in model.weights)  # float32 master weights
    assert np.abs(probabilities - reference).max() < 0.03

    # float16 scales the loss (from 2^15) so small gradients survive; a step whose scaled
    # gradients overflow is skipped and the scale halved. Compare with float32 trained on
    # the batches that were applied (the skips come first, while the scale settles).
    config.runtime.mixed_precision = "mixed_float16"
    model, probabilities = predictions_after_training(config, x, y, x)
    assert model.compute_dtype == "float16"
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    skipped = 4 - int(model.optimizer.inner_optimizer.iterations.numpy())
    assert float(model.optimizer.dynamic_scale.numpy()) == 2.0 ** (15 - skipped)
    config.runtime.mixed_precision = "float32"
    applied = {key: value[2 * skipped:] for key, value in x.items()}
    _, reference = predictions_after_training(config, applied, y[2 * skipped:], x)
    assert np.abs(probabilities - reference).max() < 0.01
    assert keras.mixed_precision.global_policy().name == "float32"  # restored after the runs


def test_xla_train_step_trains_like_the_plain_one():
    config, x, y = no_dropout_and_a_batch(2)
    plain, reference = predictions_after_training(config, x, y, x)
    config.runtime.jit_compile = True
    compiled, probabilities = predictions_after_training(config, x, y, x)
    assert compiled.jit_compile and not plain.jit_compile
    # XLA fuses and reorders float32 arithmetic: equal up to rounding, 4 steps on.
    for ours, theirs in zip(compiled.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)
    assert np.abs(probabilities - reference).max() < 1e-5


class PoisonWeights(keras.callbacks.Callback):
    """Sets the first kernel to NaN at the start of epoch `epoch` (a diverged update)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            kernel = next(w for w in self.model.trainable_weights if w.name == "kernel")
            kernel.assign(np.full(kernel.shape, np.nan, np.float32))


def test_a_nan_loss_stops_the_run_naming_the_step_and_keeps_the_backup(tmp_path, monkeypatch):
    config = smoke_config(train=write_csv(tmp_path / "train.csv", toy_topics(40)), batch_size=8)
    config.train.epochs = 3
    standard = callbacks_lib.standard_callbacks
    monkeypatch.setattr(callbacks_lib, "standard_callbacks",
                        lambda *args, **kwargs: standard(*args, **kwargs) + [PoisonWeights(2)])
    workdir = str(tmp_path / "run")
    with pytest.raises(callbacks_lib.NonFiniteLoss,
                       match=r"loss became nan at epoch 2, step 1 of the epoch; .* backup "
                             r"\(.*backup\) is kept"):
        tfllm.train(config, workdir)
    assert not os.path.exists(os.path.join(workdir, "model.keras"))  # no model of NaNs
    assert os.listdir(os.path.join(workdir, "backup"))  # epoch 1's backup survives

    monkeypatch.setattr(callbacks_lib, "standard_callbacks", standard)
    report = tfllm.train(config, workdir)  # the same command resumes and finishes
    assert np.isfinite(report["accuracy"])


@pytest.mark.parametrize("flags, expected", [
    ({"fpu", "avx512f", "avx512_bf16"}, "mixed_bfloat16"),
    ({"fpu", "amx_bf16"}, "mixed_bfloat16"),
    ({"fpu", "avx2"}, "float32"),  # bfloat16 would be emulated: slower than float32
])
def test_auto_precision_takes_bfloat16_only_where_the_cpu_has_it(flags, expected, monkeypatch):
    monkeypatch.setattr(precision, "cpu_flags", lambda: flags)
    monkeypatch.setattr(precision.tf.config, "list_physical_devices", lambda kind: [])
    assert precision.resolve("auto") == expected
    assert precision.resolve("float32") == "float32"  # an explicit choice stands
    assert precision.resolve("auto", "tpu") == "mixed_bfloat16"
    config = smoke_config()
    config.runtime.mixed_precision = "auto"
    assert encoder.resolve(config, 100).runtime.mixed_precision == expected  # saved in config.json


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx512_bf16\n", encoding="utf-8")
    assert precision.cpu_flags(str(cpuinfo)) == {"fpu", "sse", "avx512_bf16"}
    assert precision.cpu_flags(str(tmp_path / "missing")) == set()
