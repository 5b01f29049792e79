"""tfllm: fine-tune BERT-style encoders and GPT-style decoders with TensorFlow and Keras.

Python API:
    tfllm.train(config, workdir)  -> evaluation report of the finished run
    tfllm.load(workdir)           -> the run's predictor, as its task says: TextClassifier
                                     (predict, evaluate), LanguageModel (generate,
                                     evaluate), Tagger or SpanQA (predict, evaluate),
                                     Seq2Seq (generate, evaluate)
    tfllm.pipeline(task, model=workdir) -> Hugging Face-style callable
    tfllm.export(workdir, export_dir[, version]) -> the TF Serving version directory written

Keras-native: tfllm.models.bert(...) / tfllm.models.gpt(...) build backbones from sizes or
checkpoints, tfllm.tasks.classification.preprocessor.TextClassifierPreprocessor is the raw
text -> features layer (docs/python_api.md).

`import tfllm` is light: TensorFlow is imported by the first call that needs it, so the
command line answers `--help` or a bad flag at once. `keras.saving.load_model` reads a tfllm
model.keras after `import tfllm.keras_objects`, which registers tfllm's Keras objects.
"""

import importlib
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

# Subpackages reachable as attributes after `import tfllm` (`tfllm.models.bert(...)`).
_SUBPACKAGES = ("cli", "configs", "data", "evaluation", "generation", "keras_objects",
                "models", "serving", "tasks", "training")


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"tfllm.{name}")
    raise AttributeError(f"module 'tfllm' has no attribute {name!r}")


def train(config, workdir):
    """Runs the experiment `config` describes in `workdir`; returns the validation report."""
    from tfllm.tasks import registry  # pylint: disable=import-outside-toplevel
    return registry.task_for(config).train(config, workdir)


def import_checkpoint(config, workdir):
    """Writes the pretrained decoder `config.model.init_from` names as a finished run, untrained."""
    from tfllm.tasks.language_model import task  # pylint: disable=import-outside-toplevel
    return task.import_checkpoint(config, workdir)


def load(workdir):
    """Loads a finished run: the predictor of the run's task (see the module docstring)."""
    from tfllm.tasks import registry  # pylint: disable=import-outside-toplevel
    return registry.task_for_workdir(workdir).load(workdir)


def pipeline(task, model):
    """`pipeline("text-generation" | "text-classification" | "text2text-generation",
    model=workdir)`, Hugging Face-style."""
    from tfllm.pipelines import pipeline as make  # pylint: disable=import-outside-toplevel
    return make(task, model)


def export(workdir, export_dir, version=None):
    """Writes a finished run as TF Serving model version EXPORT_DIR/<version>/; returns its path."""
    from tfllm.serving import writer  # pylint: disable=import-outside-toplevel
    return writer.export(workdir, export_dir, version)
