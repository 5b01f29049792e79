"""AdamW as BERT trains it: decoupled weight decay, but not on norms, biases, embeddings."""

import keras
import tensorflow as tf

from tfllm.training.schedules import WarmupDecay

# Variable names (the last path component) that weight decay leaves alone:
# LayerNorm scale and offset, every bias, and embedding tables. LoRA adapters
# (lora_kernel_a, lora_kernel_b) are decayed: the layer computes W + s * A B, so
# decay pulls the model toward its pretrained weights W, not toward zero (the
# LoRA paper trains its adapters with AdamW's decay too). Frozen weights are not
# decayed: the optimizer only sees trainable variables.
NO_DECAY_NAMES = ("gamma", "beta", "bias", "embeddings")


@keras.saving.register_keras_serializable(package="tfllm")
class AdamW(keras.optimizers.AdamW):
    """Keras' AdamW, given dense gradients for embedding tables.

    On the TensorFlow backend an embedding's gradient is an IndexedSlices that
    repeats a row once per occurrence of its token in the batch, and Keras'
    Adam squares those slices before summing them: the second moment of a
    token seen twice gets g1^2 + g2^2 instead of (g1 + g2)^2, and the step
    grows. Measured on a tiny BERT (float64, learning rate 5e-4), one step
    put token embeddings up to 4.9e-4 away from the dense-gradient AdamW
    step, and segment embeddings (every position repeats id 0) 2.7e-3 away.
    Summing the slices into a dense gradient first gives the standard AdamW
    step (PyTorch's too); the tests check it.
    """

    def apply(self, grads, trainable_variables=None):
        grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g
                 for g in grads]
        return super().apply(grads, trainable_variables)


def total_and_warmup_steps(train_config, steps_per_epoch):
    """Returns (total optimizer steps, warmup steps) for the schedule."""
    total = train_config.epochs * steps_per_epoch
    return total, int(train_config.warmup_fraction * total)


def build_optimizer(train_config, steps_per_epoch):
    """Returns AdamW with the config's schedule, clipping and decay exclusions.

    Args:
        train_config: the config's `train` section.
        steps_per_epoch: training batches in one epoch, to place warmup and decay.
    """
    total, warmup = total_and_warmup_steps(train_config, steps_per_epoch)
    schedule = WarmupDecay(
        peak=train_config.learning_rate,
        warmup_steps=warmup,
        total_steps=total,
        decay=train_config.decay,
        end_ratio=train_config.end_learning_rate_ratio,
    )
    optimizer = AdamW(
        learning_rate=schedule,
        weight_decay=train_config.weight_decay,
        beta_2=0.999,
        epsilon=1e-6,
        global_clipnorm=train_config.clipnorm or None,
        # The averaged weights replace the trained ones when fit ends.
        use_ema=bool(train_config.ema_momentum),
        ema_momentum=train_config.ema_momentum or 0.99,
        # Weights change every grad_accum_steps batches, by their mean gradient; the
        # schedule still counts batches.
        gradient_accumulation_steps=(train_config.grad_accum_steps
                                     if train_config.grad_accum_steps > 1 else None),
    )
    # Keras matches these against Keras variable names ("gamma") on some paths and
    # against TF variable names ("layer/gamma:0") on the TF backend's update path,
    # so each pattern anchors on the last path component with an optional ":N".
    optimizer.exclude_from_weight_decay(
        var_names=[rf"(^|/){name}(:\d+)?$" for name in NO_DECAY_NAMES])
    return optimizer
