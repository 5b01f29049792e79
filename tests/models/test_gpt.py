"""The GPT builder: named sizes, explicit dimensions, tied embeddings."""

import ml_collections
import numpy as np

from tfllm.models import gpt_backbone as gpt


def model_config(size, **backbone):
    fields = {"num_layers": 0, "num_heads": 0, "hidden_dim": 0, "intermediate_dim": 0,
              "dropout": 0.1, "max_sequence_length": 1024}
    fields.update(backbone)
    return ml_collections.ConfigDict({"size": size, "backbone": fields})


def test_base_is_the_gpt2_124m_shape():
    kwargs = gpt.backbone_kwargs(model_config("base"), 50257)
    assert kwargs == {"vocabulary_size": 50257, "num_layers": 12, "hidden_dim": 768,
                      "num_heads": 12, "intermediate_dim": 3072, "dropout": 0.1,
                      "max_sequence_length": 1024}


def test_explicit_dimensions_override_the_size():
    kwargs = gpt.backbone_kwargs(model_config("small", num_layers=3, hidden_dim=64), 300)
    assert (kwargs["num_layers"], kwargs["hidden_dim"], kwargs["num_heads"],
            kwargs["intermediate_dim"]) == (3, 64, 1, 256)


def test_output_projection_is_the_input_embedding():
    kwargs = gpt.backbone_kwargs(model_config("tiny", max_sequence_length=16), 300)
    model = gpt.build_causal_lm(kwargs)
    embedding = model.backbone.token_embedding
    assert embedding.tie_weights
    names = [w.path for w in model.weights]
    assert not any("reverse" in name for name in names), names
    ids = np.array([[1, 2, 3]], np.int32)
    features = {"token_ids": ids, "padding_mask": np.ones_like(ids)}
    hidden = np.asarray(model.backbone(features))
    expected = hidden @ np.asarray(embedding.embeddings).T
    np.testing.assert_allclose(np.asarray(model(features)), expected, rtol=1e-4, atol=1e-5)
