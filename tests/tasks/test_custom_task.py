"""A task defined outside the package (docs/architecture.md's walk-through): a regression
head on the classifier's data (how sporty is a text: 1 for sport, 0 for food, learned with
MSE), registered, then trained, loaded, predicted and exported through the public API
like any built-in task."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfllm
from tests import helpers
from tfllm.errors import TfllmError
from tfllm.models import encoder
from tfllm.serving.untracked import Untracked
from tfllm.tasks import base, registry
from tfllm.tasks.classification import task as classification
from tfllm.tasks.classification.predictor import TextClassifier


def score(one_hot):
    """The regression target: the label's index as a number (labels sort: food 0, sport 1)."""
    return tf.cast(tf.argmax(one_hot, axis=-1), tf.float32)


class SportinessTask(classification.ClassificationTask):
    """A number per text: the classifier's data and encoder, a one-number head, MSE."""

    name = "sportiness"
    head = ("score",)
    monitor = ("val_loss", "min")

    def datasets(self, prepared):
        datasets = super().datasets(prepared)
        stream = datasets.stream
        datasets.stream = lambda start: stream(start).map(lambda x, y: (x, score(y)))
        datasets.validation = datasets.validation.map(lambda x, y: (x, score(y)))
        return datasets

    def build_model(self, prepared):
        def head(backbone):
            pooled = backbone(backbone.input)["pooled_output"]
            return keras.Model(backbone.input, keras.layers.Dense(1, name="score")(pooled))
        return encoder.build(prepared.config, len(prepared.tokenizer),
                                            prepared.checkpoint, head)

    def compile_model(self, model, config, steps_per_epoch):
        model.compile(optimizer=keras.optimizers.Adam(config.train.learning_rate), loss="mse")

    def evaluate(self, model, prepared, datasets):
        return {"mse": float(model.evaluate(datasets.validation, verbose=0))}

    def load(self, workdir):
        return Scorer(workdir)

    def export_parts(self, predictor):
        return ScoreModule(predictor), []

    def summary(self, report):
        return f"validation mse {report['mse']:.4f} in {base.minutes(report)}"


class Scorer(TextClassifier):
    label_outputs = False  # one score, not one output per label

    def predict(self, texts, text_pairs=None):
        return self.model(self._features(tf.constant(texts)))[:, 0].numpy()


class ScoreModule(tf.Module):
    def __init__(self, scorer):
        super().__init__()
        self._model = Untracked(scorer.model)
        self.model_variables = [variable.value for variable in scorer.model.variables]
        self.to_features = scorer.to_features

    def signatures(self):
        serve = tf.function(lambda text: {"score": self._model.value(self.to_features(text))})
        return {"serving_default": serve.get_concrete_function(tf.TensorSpec([None], tf.string))}


@pytest.fixture(scope="module")
def sportiness_run(tmp_path_factory):
    registry.register(SportinessTask())
    tmp = tmp_path_factory.mktemp("sportiness")
    config = helpers.smoke_config(train=helpers.write_csv(tmp / "train.csv",
                                                          helpers.toy_topics(40)),
                                  validation_fraction=0.25, batch_size=8)
    config.task = "sportiness"
    config.train.update(learning_rate=0.01, epochs=5, steps_per_epoch=0)
    yield tfllm.train(config, str(tmp / "run")), str(tmp / "run"), tmp
    del registry.TASKS["sportiness"]


def test_a_registered_task_trains_predicts_and_exports(sportiness_run):
    report, workdir, tmp = sportiness_run
    assert set(report) >= {"mse", "wall_seconds", "workdir"}
    scorer = tfllm.load(workdir)
    assert isinstance(scorer, Scorer)
    texts = ["the coach and the team number 3", "some soup with bread number 3"]
    scores = scorer.predict(texts)
    assert scores[0] > 0.5 > scores[1]  # sport scores high, food low
    version = tfllm.export(workdir, str(tmp / "export"))
    served = tf.saved_model.load(version).signatures["serving_default"](tf.constant(texts))
    np.testing.assert_allclose(served["score"].numpy()[:, 0], scores, atol=1e-5)


def test_a_name_cannot_be_registered_twice():
    with pytest.raises(TfllmError, match="already registered"):
        registry.register(classification.ClassificationTask())
