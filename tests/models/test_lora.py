import json

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from tfllm.tasks.classification import head as heads
from tfllm.models import lora
from tfllm.models import lora_files

TINY = {"vocabulary_size": 50, "num_layers": 2, "num_heads": 2, "hidden_dim": 8,
        "intermediate_dim": 16, "max_sequence_length": 16, "dropout": 0.0}
# Big enough that the weights file dwarfs its fixed overhead.
SMALL = {**TINY, "vocabulary_size": 1000, "num_heads": 4, "hidden_dim": 64,
         "intermediate_dim": 128}


def classifier(seed=0, **sizes):
    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.BertBackbone(**{**TINY, **sizes})
    return heads.build_classifier(backbone, num_classes=3, dropout=0.0)


def features(vocabulary_size=50, batch=4):
    rng = np.random.default_rng(7)
    return {"token_ids": rng.integers(1, vocabulary_size, (batch, 16)).astype("int32"),
            "segment_ids": np.zeros((batch, 16), "int32"),
            "padding_mask": np.ones((batch, 16), bool)}


def fit_a_little(model, x, steps=3):
    model.compile(optimizer=keras.optimizers.Adam(0.05), jit_compile=False,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    y = np.arange(len(x["token_ids"])) % 3
    model.fit(x, y, batch_size=len(y), epochs=steps, verbose=0)


def randomize_adapters(model):
    rng = np.random.default_rng(3)
    for variable in model.trainable_weights:
        variable.assign(rng.normal(0.0, 0.5, variable.shape).astype("float32"))


def values(model):
    return {v.path: np.array(v.numpy()) for v in model.weights}


def test_only_adapters_and_train_also_train():
    model, x, rank = classifier(), features(), 2
    base = values(model)
    summary = lora.apply_lora(model, rank, targets=("value", "feedforward_output_dense"),
                              train_also=("logits",))

    # A (in..., rank) and B (rank, out) per targeted kernel, plus the whole head.
    targeted = [shape.shape for path, shape in base.items()
                if path.endswith(("/value/kernel", "/feedforward_output_dense/kernel"))]
    assert len(targeted) == 4
    expected = sum(rank * (int(np.prod(s[:-1])) + s[-1]) for s in targeted)
    expected += base["logits/kernel"].size + base["logits/bias"].size
    assert summary.trainable_params == expected
    assert lora.count_params(model.trainable_weights) == expected
    assert f"training {expected:,} of" in str(summary)

    fit_a_little(model, x)
    after = values(model)
    for path, value in base.items():
        if path.startswith("logits/"):
            assert not np.array_equal(after[path], value), path
        else:
            np.testing.assert_array_equal(after[path], value, err_msg=path)
    adapters_b = [v for v in model.weights if v.path.endswith("lora_kernel_b")]
    assert len(adapters_b) == 4 and all(np.any(v.numpy() != 0) for v in adapters_b)


def test_dropout_acts_on_the_low_rank_path_only():
    model, x = classifier(), features()
    lora.apply_lora(model, 2, dropout=0.5, targets=("query", "feedforward_intermediate_dense"))
    # B = 0: the low-rank path adds nothing, so dropout on its input changes nothing.
    without_adapters = model(x, training=False)
    np.testing.assert_allclose(model(x, training=True), without_adapters, atol=1e-6)
    randomize_adapters(model)
    inference = model(x, training=False)
    np.testing.assert_array_equal(inference, model(x, training=False))
    # With rate 0.5 the adapters' contribution varies by a good part of itself.
    first, second = model(x, training=True), model(x, training=True)
    adapters_effect = np.abs(inference - without_adapters).max()
    assert np.abs(first - second).max() > 0.1 * adapters_effect > 0
    # In the traced training step too: the adapters learn, the base does not move.
    base = {path: v for path, v in values(model).items() if "lora" not in path}
    fit_a_little(model, x)
    for path, value in base.items():
        np.testing.assert_array_equal(values(model)[path], value, err_msg=path)


def test_adapter_file_is_small_and_reproduces_the_model(tmp_path):
    model, x = classifier(**SMALL), features(SMALL["vocabulary_size"])
    base_weights = model.get_weights()
    model.save_weights(tmp_path / "model.weights.h5")
    summary = lora.apply_lora(model, 2, train_also=("logits",))
    fit_a_little(model, x)
    expected = model(x)
    lora_files.save_adapters(model, tmp_path / "adapters.npz")
    assert (tmp_path / "adapters.npz").stat().st_size * 10 < (
        tmp_path / "model.weights.h5").stat().st_size

    fresh = classifier(seed=1, **SMALL)  # other random weights, the head included
    fresh.set_weights(base_weights)
    assert not np.allclose(fresh(x), model(x))
    loaded = lora_files.load_adapters(fresh, tmp_path / "adapters.npz")
    assert loaded == summary
    np.testing.assert_allclose(fresh(x), expected, atol=1e-6)


def test_loading_onto_another_rank_or_base_fails_clearly(tmp_path):
    model = classifier()
    base_weights = model.get_weights()
    lora.apply_lora(model, 2, train_also=("logits",))
    randomize_adapters(model)
    path = tmp_path / "adapters.npz"
    lora_files.save_adapters(model, path)

    other_rank = classifier()
    lora.apply_lora(other_rank, 4, train_also=("logits",))
    with pytest.raises(lora.LoraError, match=r"rank=2, but this model has rank=4"):
        lora_files.load_adapters(other_rank, path)

    for sizes in ({"hidden_dim": 16}, {"num_layers": 1}):
        other = classifier(**sizes)
        with pytest.raises(lora.LoraError, match="saved from a different base model"):
            lora_files.load_adapters(other, path)
        # The failed load leaves the model as it was: no LoRA, no adapter variables.
        assert lora.lora_summary(other) is None
        assert not [v for v in other.weights if "lora" in v.path]

    other_weights = classifier(seed=5)
    with pytest.raises(lora.LoraError, match="trained on other base weights"):
        lora_files.load_adapters(other_weights, path)
    other_weights.set_weights(base_weights)
    lora_files.load_adapters(other_weights, path)
    np.testing.assert_allclose(other_weights(features()), model(features()), atol=1e-6)

    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(lora.LoraError, match="not a tfllm LoRA adapter file"):
        lora_files.load_adapters(classifier(), tmp_path / "junk.npz")


def test_merge_leaves_a_plain_model_with_the_same_outputs(tmp_path):
    model, x = classifier(), features()
    model.predict(x, verbose=0)  # a traced predict function must not outlive the change
    trainable_before = [v.path for v in model.trainable_weights]
    lora.apply_lora(model, 2, dropout=0.1,
                    targets=("query", "value", "feedforward_intermediate_dense"),
                    train_also=("logits",))
    randomize_adapters(model)
    with_adapters = model(x)
    np.testing.assert_allclose(model.predict(x, verbose=0), with_adapters, atol=1e-5)

    assert lora.merge_lora(model) is model
    np.testing.assert_allclose(model(x), with_adapters, atol=1e-5)
    np.testing.assert_allclose(model.predict(x, verbose=0), with_adapters, atol=1e-5)
    assert lora.lora_summary(model) is None
    assert not [v.path for v in model.variables if "lora" in v.path]
    assert "lora" not in json.dumps(model.get_config())
    assert [v.path for v in model.trainable_weights] == trainable_before
    checkpoint = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
    assert not [name for name, _ in tf.train.list_variables(checkpoint) if "lora" in name]

    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    assert not [v.path for v in reloaded.weights if "lora" in v.path]
    np.testing.assert_allclose(reloaded(x), with_adapters, atol=1e-5)


def test_a_pattern_that_matches_nothing_is_an_error_naming_it():
    model = classifier()
    with pytest.raises(lora.LoraError, match="'no_such_layer' matches nothing.*query"):
        lora.apply_lora(model, 2, targets=("query", "no_such_layer"))
    with pytest.raises(lora.LoraError, match="train_also pattern 'head' matches nothing"):
        lora.apply_lora(model, 2, train_also=("head",))
    with pytest.raises(lora.LoraError, match="list of patterns"):
        lora.apply_lora(model, 2, targets="query")
    assert lora.lora_summary(model) is None
    assert not [v for v in model.weights if "lora" in v.path]


def test_default_targets_are_the_attention_query_and_value():
    bert = lora.apply_lora(classifier(), 2)
    assert bert.target_layers == tuple(
        f"transformer_layer_{i}/self_attention_layer/{name}"
        for i in range(2) for name in ("query", "value"))
    keras.utils.set_random_seed(0)
    gpt2 = keras_hub.models.GPT2Backbone(
        vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=16,
        max_sequence_length=16)
    causal_lm = keras_hub.models.GPT2CausalLM(backbone=gpt2, preprocessor=None)
    summary = lora.apply_lora(causal_lm, 2)
    assert summary.target_layers == tuple(
        f"transformer_layer_{i}/self_attention/{name}"
        for i in range(2) for name in ("query", "value"))
    assert summary.trainable_params == 4 * 2 * (8 * 2 + 4)
