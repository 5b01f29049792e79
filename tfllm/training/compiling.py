"""Compiling a task's model with the run's optimizer: the two shapes the built-in tasks
share (decoders' token loss and perplexity; encoders' L2 and their own loss and metric)."""

import keras
import keras_hub

from tfllm.models import bert_backbone
from tfllm.training import optimizers


def compile_token_model(model, config, steps_per_epoch):
    """Compiles `model` (token logits, targets weighted by sample weights: 0 on padding and
    on prompts) with the run's optimizer."""
    model.compile(
        optimizer=optimizers.build_optimizer(config.train, steps_per_epoch),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"),
        weighted_metrics=[keras_hub.metrics.Perplexity(from_logits=True, name="perplexity")],
        jit_compile=config.runtime.jit_compile,
    )


def compile_encoder_model(model, config, steps_per_epoch, loss, metrics):
    """Compiles a BERT-style task model with the config's L2 on its kernels, `loss` and
    `metrics` (classification, tagging, span QA)."""
    bert_backbone.add_l2(model, config.train.l2)
    model.compile(optimizer=optimizers.build_optimizer(config.train, steps_per_epoch),
                  loss=loss, metrics=metrics, jit_compile=config.runtime.jit_compile)
