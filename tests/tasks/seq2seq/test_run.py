"""Text to text end to end: a tiny BART learns toy pairs exactly; bad rows; config; GPT route."""

import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf

import tfllm
from tests import helpers
from tfllm import config as config_lib
from tfllm.configs import seq2seq
from tfllm.tasks.seq2seq import data as seq2seq_data
from tfllm.tasks.seq2seq import toy_data as toy_seq2seq
from tfllm.errors import ConfigError, DataError, TfllmError
from tfllm.generation.sampling import GenerationError
from tfllm.tasks.seq2seq.predictor import Seq2Seq

TRANSLATION_PAIRS = 48


def seq2seq_config(variant, train, **data):
    """The `variant` config on the pairs file `train`, with `data` fields overridden."""
    config = seq2seq.get_config(variant)
    config.data.train = str(train)
    for key, value in data.items():
        config.data[key] = value
    return config


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("seq2seq")
    train = toy_seq2seq.write(directory / "pairs.tsv", "translation", TRANSLATION_PAIRS)
    workdir = str(directory / "run")
    config = seq2seq_config("translation_smoke", train, validation=train)
    return workdir, train, tfllm.train(config, workdir)


def test_a_tiny_bart_reproduces_every_training_target_exactly(run):
    workdir, train, report = run
    for name in ("config.json", "tokenizer/vocab.json", "tokenizer/merges.txt", "model.keras",
                 "metrics.jsonl", "eval.json", "data_report.json", "checkpoints/best.weights.h5"):
        assert os.path.exists(os.path.join(workdir, name)), name
    assert report["generation"]["exact_match"] == 1.0
    assert report["generation"]["examples"] == TRANSLATION_PAIRS
    assert report["perplexity"] < 1.5 < report["unigram_perplexity"]
    translator = tfllm.load(workdir)
    assert isinstance(translator, Seq2Seq)
    pairs = toy_seq2seq.translation_pairs(TRANSLATION_PAIRS)
    assert translator.generate([s for s, _ in pairs]) == [t for _, t in pairs]
    assert translator.generate(pairs[0][0]) == pairs[0][1]  # one string, one string
    with open(os.path.join(workdir, "tokenizer", "vocab.json"), encoding="utf-8") as f:
        vocabulary = json.load(f)
    assert [vocabulary[t] for t in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")] == [0, 1, 2, 3, 4]
    with open(os.path.join(workdir, "config.json"), encoding="utf-8") as f:
        resolved = json.load(f)
    assert resolved["task"] == "seq2seq" and resolved["model"]["backbone"]["hidden_dim"] == 64
    assert resolved["generation"]["max_new_tokens"] == resolved["data"]["max_target_length"]


def test_evaluate_reports_target_perplexity_and_overlap_on_a_file(run, tmp_path):
    workdir, train, report = run
    translator = tfllm.load(workdir)
    again = translator.evaluate()
    assert again["perplexity"] == pytest.approx(report["perplexity"], rel=1e-4)
    assert "generation" not in again
    scored = translator.evaluate(train, generate=True, max_examples=10)
    assert scored["generation"]["examples"] == 10
    assert scored["generation"]["exact_match"] == 1.0 and scored["generation"]["bleu"] > 0.99
    # JSON Lines with other keys: the run's column names are what it reads
    jsonl = toy_seq2seq.write_pairs(tmp_path / "p.jsonl", toy_seq2seq.translation_pairs(5))
    assert translator.evaluate(jsonl, generate=True)["generation"]["exact_match"] == 1.0


def test_samplers_and_limits(run):
    translator = tfllm.load(run[0])
    source = toy_seq2seq.translation_pairs(1)[0][0]
    sampled = [translator.generate([source] * 3, sampler="top_k", top_k=5, temperature=3.0,
                                   seed=seed) for seed in (1, 1)]
    assert sampled[0] == sampled[1]  # same seed, same text
    assert translator.generate([source], sampler="beam", num_beams=2) == translator.generate(
        [source])
    assert len(translator.tokenize(translator.generate([source], max_new_tokens=1))[0]) <= 1
    with pytest.raises(GenerationError, match="^source: source 1 is empty"):
        translator.generate([source, "  "])
    with pytest.raises(GenerationError, match="^temperature: the 'greedy'"):
        translator.generate([source], temperature=0.5)
    with pytest.raises(GenerationError, match="^max_new_tokens: got 99"):
        translator.generate([source], max_new_tokens=99)


def test_text2text_generation_pipeline(run):
    translate = tfllm.pipeline("text2text-generation", model=run[0])
    source, target = toy_seq2seq.translation_pairs(1)[0]
    assert translate(source) == [{"generated_text": target}]
    with pytest.raises(TfllmError, match="a seq2seq run cannot serve 'text-generation'"):
        tfllm.pipeline("text-generation", model=run[0])


def test_a_killed_run_resumes_from_its_last_backup(tmp_path, monkeypatch, capsys):
    helpers.kill_at_step(monkeypatch, 9)
    train = toy_seq2seq.write(tmp_path / "t.tsv", "translation", TRANSLATION_PAIRS)
    config = seq2seq_config("translation_smoke", train, validation=train)
    config.train.epochs, config.train.backup_every_steps = 3, 4
    workdir = str(tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        tfllm.train(config, workdir)
    assert not os.path.exists(os.path.join(workdir, "model.keras"))
    monkeypatch.undo()
    report = tfllm.train(config, workdir)
    assert "resumed from step 8" in capsys.readouterr().out
    assert report["perplexity"] > 0 and not os.path.exists(os.path.join(workdir, "backup"))
    with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
        assert [json.loads(line)["step"] for line in f] == [6, 12, 18]


def _tsv(path, rows, header="source\ttarget"):
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return str(path)


GOOD = [f"{s}\t{t}" for s, t in toy_seq2seq.translation_pairs(20)]


def test_missing_fields_name_file_and_line(tmp_path):
    train = _tsv(tmp_path / "t.tsv", GOOD + ["\tbam dor", "lu mi\t", "ka\tbam\textra"])
    with pytest.raises(DataError, match=re.escape(
            f"3 of 23 rows are bad, more than --config.data.max_bad_fraction=0.0: "
            f"{train}:22: missing text in column 'source'; {train}:23: missing text in column "
            f"'target'; {train}:24: expected 2 fields, found 3")):
        tfllm.train(seq2seq_config("translation_smoke", train), str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run")
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text('{"source": "lu", "target": "dor"}\n{"source": "mi"}\n{"sou\n',
                     encoding="utf-8")
    with pytest.raises(DataError, match=re.escape(f"{jsonl}:2: missing text in column "
                                                  f"'target'; {jsonl}:3: invalid JSON")):
        tfllm.train(seq2seq_config("translation_smoke", jsonl), str(tmp_path / "run"))
    with pytest.raises(DataError, match=re.escape(f"{train}: no column 'src' (selected by "
                                                  "--config.data.source_column)")):
        tfllm.train(seq2seq_config("translation_smoke", train, source_column="src"),
                    str(tmp_path / "run"))


def test_a_too_long_target_is_reported_never_cut(tmp_path):
    long_target = " ".join(["bam dor fip"] * 12)
    train = _tsv(tmp_path / "t.tsv", GOOD + [f"lu mi\t{long_target}"])
    with pytest.raises(DataError, match=re.escape(f"{train}:22: target needs ") + r"\d+ tokens "
                       + re.escape("(</s> included), more than "
                                   "--config.data.max_target_length=24")):
        tfllm.train(seq2seq_config("translation_smoke", train), str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run")  # refused before anything was written


def test_bad_rows_under_max_bad_fraction_are_dropped_and_listed(tmp_path):
    train = _tsv(tmp_path / "t.tsv", GOOD + ["\tbam", "ka ka ka ka ka ka ka ka\tbam"])
    config = seq2seq_config("translation_smoke", train, max_bad_fraction=0.1,
                            max_source_length=14)
    records, validation, report = seq2seq_data.read_and_split(config.data)

    def characters(texts):  # one token per character: lengths are easy to read
        return tf.strings.unicode_decode(texts, "UTF-8")

    fit, fit_validation, report = seq2seq_data.finish(records, validation, report, characters,
                                                      config.data)
    assert report["bad_rows"] == 2 and report["too_long"] == 1
    assert report["bad_row_examples"] == [
        f"{train}:22: missing text in column 'source'",
        f"{train}:23: source needs 25 tokens (<s> and </s> included), more than "
        "--config.data.max_source_length=14"]
    assert len(fit.records) + len(fit_validation.records) == 20
    features, targets, weights = seq2seq_data.pack(fit, 0, 2, 1)
    first = fit.target_ids[0]
    assert features["decoder_token_ids"][0, :len(first) + 2].tolist() == [2, 0, *first]
    assert targets[0, :len(first) + 2].tolist() == [0, *first, 2]
    assert weights[0].sum() == len(first) + 1 and weights[0, 0] == 0
    assert features["encoder_token_ids"][0, 0] == 0
    assert np.all(features["encoder_padding_mask"].sum(1) == [len(s) + 2 for s in fit.source_ids])


def test_config_checks(tmp_path):
    with pytest.raises(ConfigError, match=r"^--config.data.train: got '', expected a .tsv"):
        config_lib.validate(seq2seq.get_config())
    with pytest.raises(ConfigError, match="--config.data.train: data file not found"):
        config_lib.validate(seq2seq_config("", tmp_path / "missing.tsv"))
    train = toy_seq2seq.write(tmp_path / "t.tsv", "translation", 20)
    config = seq2seq_config("translation_smoke", train)
    config_lib.validate(config)
    config.model.architecture = "t5"
    with pytest.raises(ConfigError, match=r"--config.model.architecture: got 't5', expected"):
        config_lib.validate(config)
    config = seq2seq_config("translation_smoke", train)
    config.generation.max_new_tokens = 40
    with pytest.raises(ConfigError, match=r"^--config.generation.max_new_tokens: got 40"):
        config_lib.validate(config)
    config = seq2seq_config("translation_smoke", train)
    config.model.init_from = train
    with pytest.raises(ConfigError, match=r"^--config.model.init_from: BART runs start"):
        config_lib.validate(config)
    with pytest.raises(ValueError, match="unknown variant 'huge'"):
        seq2seq.get_config("huge")


def test_the_gpt_route_is_the_language_model_pairs_run(tmp_path):
    train = toy_seq2seq.write(tmp_path / "t.tsv", "translation", 40)
    config = seq2seq_config("translation_smoke", train, validation=train)
    config.model.architecture = "gpt"
    config.data.batch_size = 2  # 40 short pairs pack into a few blocks
    config.train.epochs, config.train.steps_per_epoch = 1, 2
    workdir = str(tmp_path / "gpt")
    report = tfllm.train(config, workdir)
    assert report["perplexity"] > 0 and "unigram_perplexity" in report
    resolved = config_lib.load(os.path.join(workdir, "config.json"))
    assert resolved.task == "language_modeling" and resolved.data.format == "pairs"
    assert (resolved.data.prompt_column, resolved.data.response_column) == ("source", "target")
    assert resolved.data.max_seq_length == 48 and resolved.model.backbone.hidden_dim == 64
    lm = tfllm.load(workdir)  # generation, evaluation and export: the language model's
    assert lm.trained_on_pairs and len(lm.generate(["lu mi"], max_new_tokens=3)) == 1


@pytest.mark.slow
def test_cli_predicts_generates_and_evaluates_a_seq2seq_run(run, tmp_path):
    workdir, train, _ = run
    source, target = toy_seq2seq.translation_pairs(1)[0]
    missing, *results = helpers.tfllm_all(
        ("train", "--config=configs/seq2seq.py:translation_smoke"),
        ("predict", f"--workdir={workdir}", f"--text={source}"),
        ("generate", f"--workdir={workdir}", f"--prompt={source}", "--sampler=beam",
         "--num_beams=2"),
        ("evaluate", f"--workdir={workdir}", f"--data={train}", "--generate",
         f"--output={tmp_path / 'eval.json'}"))  # the run stays as trained
    assert missing.returncode == 2
    assert "tfllm train: error: --config.data.train: got ''" in missing.stderr
    for result in results:
        assert result.returncode == 0, result.stderr[-3000:]
    predicted, generated, evaluated = (result.stdout for result in results)
    assert json.loads(predicted.splitlines()[-1]) == {"source": source, "target": target}
    assert json.loads(generated.splitlines()[-1]) == {"source": source, "generated_text": target}
    assert re.search(r"bleu 1\.0000 .*exact_match 1\.0000", evaluated)
