"""Compiling a model that predicts tokens (language models, seq2seq): AdamW, cross-entropy
averaged over the weighted target tokens, and perplexity."""

import keras
import keras_hub

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
