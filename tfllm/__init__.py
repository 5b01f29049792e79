"""tfllm: fine-tune BERT-style encoders and GPT-style decoders with TensorFlow and Keras.

Python API:
    tfllm.train(config, workdir)  -> evaluation report of the finished run
    tfllm.load(workdir)           -> TextClassifier (predict, evaluate), LanguageModel
                                     (generate, evaluate), Tagger (predict, evaluate) or
                                     SpanQA (predict, evaluate), as the run's task says
                                     (Seq2Seq: generate, evaluate, for BART seq2seq runs)
    tfllm.pipeline(task, model=workdir) -> Hugging Face-style callable
    tfllm.export(workdir, export_dir[, version]) -> the TF Serving version directory written
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
from tfllm.models import token_head  # noqa: E402,F401  (the tagger's saved metric)
from tfllm.tasks.span_qa import head as span_head  # noqa: E402,F401  (span QA's saved loss and metric)
from tfllm.training import optimizers  # noqa: E402,F401  (the saved optimizer's class)
from tfllm.training import schedules  # noqa: E402,F401

__version__ = "0.1.0"


def train(config, workdir):
    """Runs the experiment `config` describes in `workdir`; returns the validation report."""
    # pylint: disable=import-outside-toplevel
    if config.task == "language_modeling":
        from tfllm.tasks.language_model import task as lm_loop
        return lm_loop.train_and_evaluate(config, workdir)
    if config.task == "seq2seq":
        from tfllm.tasks.seq2seq import task as seq2seq_loop
        return seq2seq_loop.train_and_evaluate(config, workdir)
    if config.task == "tagging":
        from tfllm.tasks.tagging import task as tagging_loop
        return tagging_loop.train_and_evaluate(config, workdir)
    if config.task == "span_qa":
        from tfllm.tasks.span_qa import task as qa_loop
        return qa_loop.train_and_evaluate(config, workdir)
    from tfllm.training import loop
    return loop.train_and_evaluate(config, workdir)


def import_checkpoint(config, workdir):
    """Writes the pretrained decoder `config.model.init_from` as a finished run, untrained."""
    from tfllm.tasks.language_model import task as lm_loop  # pylint: disable=import-outside-toplevel
    return lm_loop.import_checkpoint(config, workdir)


def load(workdir):
    """Loads a finished run: a TextClassifier, a LanguageModel or a Tagger, by the run's task."""
    # pylint: disable=import-outside-toplevel
    from tfllm import config as config_lib
    from tfllm.workdir import Paths
    config_path = Paths(workdir).config
    task = config_lib.load(config_path).task if os.path.exists(config_path) else ""
    if task == "language_modeling":
        from tfllm.tasks.language_model.predictor import LanguageModel
        return LanguageModel(workdir)
    if task == "seq2seq":
        from tfllm.tasks.seq2seq.predictor import Seq2Seq
        return Seq2Seq(workdir)
    if task == "tagging":
        from tfllm.tasks.tagging.predictor import Tagger
        return Tagger(workdir)
    if task == "span_qa":
        from tfllm.tasks.span_qa.predictor import SpanQA
        return SpanQA(workdir)
    from tfllm.tasks.classification.predictor import TextClassifier
    return TextClassifier(workdir)


def pipeline(task, model):
    """`pipeline("text-generation" | "text-classification", model=workdir)`, Hugging Face-style."""
    from tfllm.pipelines import pipeline as make  # pylint: disable=import-outside-toplevel
    return make(task, model)


def export(workdir, export_dir, version=None):
    """Writes a finished run as TF Serving model version EXPORT_DIR/<version>/; returns its path."""
    from tfllm.serving import writer  # pylint: disable=import-outside-toplevel
    return writer.export(workdir, export_dir, version)
