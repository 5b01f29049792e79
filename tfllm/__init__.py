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
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Importing keras_hub registers its layers, so model.keras files load after `import tfllm`.
import keras_hub  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

# Registers tfllm's serializable Keras objects (the schedule, the pooling layer).
from tfllm.models import pooling  # noqa: E402,F401
from tfllm.models import llama  # noqa: E402,F401  (registers the saved Llama backbone)
from tfllm.models import pretrained  # noqa: E402,F401
from tfllm.training import optimizers  # noqa: E402,F401  (the saved optimizer's class)
from tfllm.training import schedules  # noqa: E402,F401
# Every task, and so every task's saved layers, losses and metrics (the tagger's metric,
# span QA's loss and metric).
from tfllm.tasks import registry  # noqa: E402,F401
from tfllm.tasks.classification import preprocessor  # noqa: E402,F401  (its Keras layer)

__version__ = "0.1.0"


def train(config, workdir):
    """Runs the experiment `config` describes in `workdir`; returns the validation report."""
    return registry.task_for(config).train(config, workdir)


def import_checkpoint(config, workdir):
    """Writes the pretrained decoder `config.model.init_from` names as a finished run, untrained."""
    from tfllm.tasks.language_model import task  # pylint: disable=import-outside-toplevel
    return task.import_checkpoint(config, workdir)


def load(workdir):
    """Loads a finished run: the predictor of the run's task (see the module docstring)."""
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
