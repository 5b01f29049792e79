"""tfllm: fine-tune BERT-style encoders and GPT-style decoders with TensorFlow and Keras.

Python API:
    tfllm.train(config, workdir)  -> evaluation report of the finished run
    tfllm.load(workdir)           -> TextClassifier with predict() and evaluate()
    tfllm.export(workdir, export_dir[, version]) -> the TF Serving version directory written
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Importing keras_hub registers its layers, so model.keras files load after `import tfllm`.
import keras_hub  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

# Registers tfllm's serializable Keras objects (the schedule, the pooling layer).
from tfllm.models import pooling  # noqa: E402,F401
from tfllm.training import schedules  # noqa: E402,F401

__version__ = "0.1.0"


def train(config, workdir):
    """Runs the experiment `config` describes in `workdir`; returns the validation report."""
    from tfllm.training import loop  # pylint: disable=import-outside-toplevel
    return loop.train_and_evaluate(config, workdir)


def load(workdir):
    """Loads a finished run for prediction and evaluation on raw text."""
    from tfllm.classifier import TextClassifier  # pylint: disable=import-outside-toplevel
    return TextClassifier(workdir)


def export(workdir, export_dir, version=None):
    """Writes a finished run as TF Serving model version EXPORT_DIR/<version>/; returns its path."""
    from tfllm.serving import writer  # pylint: disable=import-outside-toplevel
    return writer.export(workdir, export_dir, version)
