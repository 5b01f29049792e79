"""Registers every Keras object a tfllm model.keras may hold, so `keras.saving.load_model`
reads one: keras-hub's layers, tfllm's pooling layer and Llama backbone, the saved
optimizer and learning-rate schedule, and each task's layers, losses and metrics.

`import tfllm.keras_objects` registers them (`import tfllm` alone stays light); tfllm's own
loaders call `register()`.
"""

import functools


@functools.cache
def register():
    """Imports each module whose classes a saved model names; idempotent."""
    # pylint: disable=import-outside-toplevel,unused-import
    import keras_hub  # noqa: F401

    from tfllm.models import llama, pooling, pretrained  # noqa: F401
    from tfllm.tasks import registry
    from tfllm.tasks.classification import preprocessor  # noqa: F401
    from tfllm.training import optimizers, schedules  # noqa: F401
    registry.load_all()


register()
