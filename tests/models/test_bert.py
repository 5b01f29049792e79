import keras
import numpy as np
import pytest
from ml_collections import ConfigDict

import tfllm  # noqa: F401
from tests.helpers import TOY_BACKBONE
from tfllm.models import bert_backbone as bert
from tfllm.tasks.classification import head as heads
from tfllm.models.sizes import BERT_SIZES, backbone_dims

ZERO_DIMS = {"num_layers": 0, "num_heads": 0, "hidden_dim": 0, "intermediate_dim": 0}


@pytest.mark.parametrize("size,layers,hidden", [
    ("tiny", 2, 128), ("mini", 4, 256), ("small", 4, 512), ("medium", 8, 512), ("base", 12, 768)])
def test_named_sizes_follow_turc_et_al(size, layers, hidden):
    dims = backbone_dims(size, ZERO_DIMS)
    assert dims == {"num_layers": layers, "hidden_dim": hidden, "num_heads": hidden // 64,
                    "intermediate_dim": 4 * hidden}


def test_explicit_dimensions_override_the_size():
    dims = backbone_dims("base", {**ZERO_DIMS, "num_layers": 3, "hidden_dim": 96})
    assert dims == {"num_layers": 3, "hidden_dim": 96, "num_heads": 1, "intermediate_dim": 384}
    assert set(BERT_SIZES) == {"tiny", "mini", "small", "medium", "base"}


def test_backbone_kwargs_build_the_stated_shape():
    model_config = ConfigDict({"size": "tiny", "backbone": {**TOY_BACKBONE, "dropout": 0.2}})
    kwargs = bert.backbone_kwargs(model_config, vocabulary_size=30, max_sequence_length=12)
    backbone = bert.build_backbone(kwargs)
    config = backbone.get_config()
    for key, value in kwargs.items():
        assert config[key] == value


def toy_model(num_classes=3):
    backbone = bert.build_backbone(
        {"vocabulary_size": 20, **TOY_BACKBONE, "dropout": 0.0, "max_sequence_length": 8})
    return heads.build_classifier(backbone, num_classes, dropout=0.1)


def toy_features(batch=4, length=8):
    rng = np.random.default_rng(0)
    return {
        "token_ids": rng.integers(0, 20, (batch, length)).astype("int32"),
        "segment_ids": np.zeros((batch, length), "int32"),
        "padding_mask": np.ones((batch, length), bool),
    }


def test_classifier_from_config_round_trip():
    model = toy_model()
    rebuilt = model.__class__.from_config(model.get_config())
    assert rebuilt.get_config() == model.get_config()
    assert rebuilt(toy_features()).shape == (4, 3)


def test_save_load_round_trip_gives_equal_predictions(tmp_path):
    model = toy_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(toy_features(), verbose=0),
                               model.predict(toy_features(), verbose=0), rtol=1e-6)


def test_l2_penalty_lands_in_the_loss_on_kernels_only():
    model = toy_model()
    bert.add_l2(model, 0.01)
    model(toy_features())
    kernels = [v for v in model.trainable_variables if v.name == "kernel"]
    expected = sum(0.01 * float(np.sum(np.square(v.numpy()))) for v in kernels)
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-4)
    assert all(v.regularizer is None for v in model.trainable_variables if v.name != "kernel")


def test_mean_pooling_classifier_ignores_padding_and_round_trips(tmp_path):
    backbone = bert.build_backbone(
        {"vocabulary_size": 20, **TOY_BACKBONE, "dropout": 0.0, "max_sequence_length": 8})
    model = heads.build_classifier(backbone, 3, dropout=0.0, pooling="mean")
    features = toy_features(batch=2)
    features["padding_mask"][:, 5:] = False
    changed = {k: v.copy() for k, v in features.items()}
    changed["token_ids"][:, 5:] = (changed["token_ids"][:, 5:] + 1) % 20  # only padded slots
    np.testing.assert_allclose(model(features), model(changed), rtol=1e-5, atol=1e-6)
    path = str(tmp_path / "mean.keras")
    model.save(path)
    np.testing.assert_allclose(keras.saving.load_model(path)(features), model(features), rtol=1e-6)


def test_unknown_pooling_is_rejected():
    with pytest.raises(ValueError, match="pooling"):
        heads.build_classifier(None, 3, 0.1, pooling="max")
