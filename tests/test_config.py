import json

import pytest

from tests.helpers import smoke_config
from tfllm import config as config_lib
from tfllm.configs import bert_classifier, gpt_lm
from tfllm.errors import ConfigError


def assert_refused(config, field, value, message):
    """Sets the dotted `field` to `value`; validation must name the flag and `message`."""
    *parents, leaf = field.split(".")
    section = config
    for part in parents:
        section = section[part]
    section[leaf] = value
    with pytest.raises(ConfigError) as error:
        config_lib.validate(config)
    assert str(error.value).startswith(f"--config.{field}: got {value!r}")
    assert message in str(error.value)


def test_default_and_smoke_configs_are_valid():
    config_lib.validate(bert_classifier.get_config())
    config_lib.validate(bert_classifier.get_config("smoke"))


def test_unknown_variant_is_rejected():
    with pytest.raises(ValueError, match="unknown variant 'huge'"):
        bert_classifier.get_config("huge")


@pytest.mark.parametrize("field,value,message", [
    ("train.learning_rate", -1e-3, "expected a positive number"),
    ("train.warmup_fraction", 1.0, "expected a fraction in [0, 1)"),
    ("train.decay", "step", "expected one of ('linear', 'cosine', 'constant')"),
    ("data.validation_fraction", 0.0, "expected a fraction in (0, 1)"),
    ("data.max_seq_length", 600, "expected an integer in [4, 512]"),
    ("data.cleaning.unicode_normalization", "NFX", "expected one of"),
    ("model.size", "huge", "expected one of ('tiny', 'mini', 'small', 'medium', 'base')"),
    ("model.pooling", "max", "expected one of ('cls', 'mean')"),
    ("model.backbone.dropout", 1.0, "expected a rate in [0, 1)"),
    ("runtime.mixed_precision", "float16", "expected one of"),
])
def test_bad_values_name_the_flag(field, value, message):
    assert_refused(smoke_config(), field, value, message)


def test_missing_files_are_named(tmp_path):
    config = smoke_config(train=str(tmp_path / "nope.csv"))
    with pytest.raises(ConfigError, match=r"--config.data.train: data file not found: .*nope.csv"):
        config_lib.validate(config)
    config = smoke_config()
    config.tokenizer.vocabulary = str(tmp_path / "vocab.txt")
    with pytest.raises(ConfigError, match="--config.tokenizer.vocabulary: vocabulary file not found"):
        config_lib.validate(config)


def test_heads_must_divide_hidden_size():
    config = smoke_config()
    config.model.backbone.num_heads = 3
    with pytest.raises(ConfigError, match="hidden_dim 16 is not divisible by num_heads 3"):
        config_lib.validate(config)


def test_locked_config_rejects_unknown_fields():
    config = smoke_config()
    with pytest.raises(AttributeError, match="learning_rate"):
        config.train.lerning_rate = 1.0


def test_save_load_round_trip(tmp_path):
    config = smoke_config()
    path = str(tmp_path / "config.json")
    config_lib.save(config, path)
    loaded = config_lib.load(path)
    assert loaded.to_dict() == config.to_dict()
    assert json.loads(open(path, encoding="utf-8").read())["train"]["epochs"] == 2


def test_gpt_configs_are_valid():
    config_lib.validate(gpt_lm.get_config())
    config_lib.validate(gpt_lm.get_config("smoke"))


@pytest.mark.parametrize("field,value,message", [
    ("generation.sampler", "nucleus", "expected one of ('greedy', 'top_k', 'top_p'"),
    ("generation.temperature", 0.0, "expected a positive number"),
    ("generation.top_p", 1.5, "expected a probability in (0, 1]"),
    ("generation.num_beams", 0, "expected a positive integer"),
    ("generation.weights_dtype", "float16", "expected one of ('float32', 'bfloat16')"),
    ("data.prompt_template", "Q: ", "expected a template containing {prompt} once"),
    ("data.prompt_template", "{prompt} {prompt}", "expected a template containing {prompt} once"),
    ("data.format", "chat", "expected one of ('auto', 'documents', 'pairs')"),
    ("tokenizer.vocabulary_size", 100, "expected an integer >= 257"),
    ("model.size", "xl", "expected one of ('tiny', 'mini', 'small', 'medium', 'base')"),
    ("model.backbone.max_sequence_length", 8, "expected 0 or at least data.max_seq_length"),
])
def test_bad_gpt_values_name_the_flag(field, value, message):
    assert_refused(gpt_lm.get_config("smoke"), field, value, message)


def test_gpt_vocabulary_must_be_a_directory(tmp_path):
    config = gpt_lm.get_config("smoke")
    config.tokenizer.vocabulary = str(tmp_path / "missing")
    with pytest.raises(ConfigError, match="--config.tokenizer.vocabulary: directory with vocab"):
        config_lib.validate(config)
