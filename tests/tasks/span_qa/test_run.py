"""The span QA task end to end: train on toy SQuAD, EM/F1, answers cut from contexts, bad input."""

import json
import os
import re
import warnings

import keras
import keras_hub
import numpy as np
import pytest

import tfllm
from tests import helpers
from tfllm import config as config_lib
from tfllm.configs import bert_qa
from tfllm.tasks.span_qa import examples as qa_examples
from tfllm.tasks.span_qa import toy_data as toy_qa
from tfllm.tasks.span_qa.squad import QaExample
from tfllm.data.tokenizer import build_tokenizer, learn_vocabulary
from tfllm.errors import ConfigError, DataError
from tfllm.tasks.span_qa import head as span_head
from tfllm.tasks.span_qa.predictor import SpanQA

CONTEXT = ("😀 The old bridge was rebuilt twice . Zoë Nguyễn was born in São Paulo . "
           "That was in the year 1904 . For many years Zoë Nguyễn worked as a pilot .")


def qa_config(train, **data):
    """The :smoke config on the SQuAD file `train`, with `data` fields overridden."""
    config = bert_qa.get_config("smoke")
    config.data.train = str(train)
    for key, value in data.items():
        config.data[key] = value
    return config


@pytest.fixture(scope="module")
def run(qa_run):
    """(workdir, report) of the shared QA run (tests/conftest.py); read, never written."""
    return qa_run[:2]


def test_run_writes_the_work_directory_and_learns_to_answer(run):
    workdir, report = run
    for name in ("config.json", "tokenizer/vocab.txt", "model.keras", "metrics.jsonl",
                 "eval.json", "data_report.json", "checkpoints/best.weights.h5"):
        assert os.path.exists(os.path.join(workdir, name)), name
    assert report["f1"] > 35 and report["questions"] > 50 and report["unanswerable"] > 0
    assert {"HasAns_f1", "NoAns_f1"} <= set(report)
    with open(os.path.join(workdir, "eval.json"), encoding="utf-8") as f:
        assert json.load(f)["f1"] == report["f1"]
    with open(os.path.join(workdir, "config.json"), encoding="utf-8") as f:
        saved = json.load(f)
    assert saved["task"] == "span_qa" and saved["data"]["allow_no_answer"] == "yes"
    with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
        epochs = [json.loads(line) for line in f]
    assert [e["epoch"] for e in epochs] == [1, 2] and 0 <= epochs[-1]["val_accuracy"] <= 1
    with open(os.path.join(workdir, "data_report.json"), encoding="utf-8") as f:
        data_report = json.load(f)
    assert data_report["rows_read"] == 1200 and data_report["bad_rows"] == 0
    # Toy contexts take several windows each.
    assert data_report["train_windows"] > 2 * data_report["train_examples"]


def test_predict_cuts_answers_from_the_context_as_written(run):
    qa = tfllm.load(run[0])
    assert isinstance(qa, SpanQA)
    questions = ["Where was Zoë Nguyễn born?", "In which year was Zoë Nguyễn born?",
                 "What did Zoë Nguyễn work as?", "Where did Zoë Nguyễn move to?"]
    results = qa.predict(questions, [CONTEXT] * 4)
    for result in results:
        assert set(result) == {"answer", "score", "start", "end"}
        if result["answer"]:
            assert result["answer"] == CONTEXT[result["start"]:result["end"]]
        else:
            assert result["start"] == result["end"] == -1
    answers = [r["answer"] for r in results[:3]]
    assert answers[0] == "São Paulo" and sum(a == b for a, b in zip(
        answers, ["São Paulo", "1904", "pilot"], strict=True)) >= 2  # a seconds-long toy run
    assert results[0]["start"] == CONTEXT.index("São")  # the emoji is one character
    assert qa.predict(questions[0], CONTEXT) == results[0]  # one string, one dict
    empty = qa.predict("Where?", "")
    assert (empty["answer"], empty["start"], empty["end"]) == ("", -1, -1)
    assert qa.predict([], []) == []
    # The export's graph functions, traced once for every batch size.
    assert qa.traced._windows.experimental_get_tracing_count() == 1
    assert qa.traced._answers.experimental_get_tracing_count() == 1


def test_evaluate_on_the_validation_split_and_on_a_new_file(run, tmp_path):
    workdir, report = run
    qa = tfllm.load(workdir)
    again = qa.evaluate()
    assert again["f1"] == pytest.approx(report["f1"]) and again["split"] == "validation"
    other = qa.evaluate(toy_qa.write_squad(tmp_path / "test.jsonl", 20, seed=7, jsonl=True))
    assert other["questions"] == 80 and other["f1"] > 35
    assert len(other["mistakes"]) <= 20


def test_model_keras_loads_without_optimizer_state_after_import_tfllm(run):
    with warnings.catch_warnings():
        warnings.filterwarnings("error", "Skipping variable loading for optimizer")
        loaded = keras.saving.load_model(os.path.join(run[0], "model.keras"))
    assert not loaded.compiled  # the backups kept what a resume needs, not model.keras
    features = {"token_ids": np.array([[2, 7, 3, 8, 3]], np.int32),
                "segment_ids": np.array([[0, 0, 0, 1, 1]], np.int32),
                "padding_mask": np.ones((1, 5), bool)}
    np.testing.assert_allclose(loaded(features), tfllm.load(run[0]).model(features), atol=1e-6)


def _tokenizer(examples):
    texts = [e.context for e in examples] + [e.question for e in examples]
    return build_tokenizer(learn_vocabulary(texts, 400, 1))


def test_misaligned_answer_names_file_and_record_before_anything_is_written(tmp_path):
    path = toy_qa.write_squad(tmp_path / "toy.json", 40, seed=1)
    with open(path, encoding="utf-8") as f:
        root = json.load(f)
    root["data"][0]["paragraphs"][3]["qas"][1]["answers"][0]["answer_start"] += 2
    with open(path, "w", encoding="utf-8") as f:
        json.dump(root, f, ensure_ascii=False)
    with pytest.raises(DataError, match=re.escape(
            f"1 of 160 rows are bad, more than --config.data.max_bad_fraction=0.0: "
            f"{path}:data[0].paragraphs[3].qas[1]: answers[0]: text ")):
        tfllm.train(qa_config(path), str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run")


def test_bad_questions_under_max_bad_fraction_are_dropped_and_listed(tmp_path):
    path = tmp_path / "q.jsonl"
    toy = toy_qa.write_squad(tmp_path / "toy.jsonl", 20, seed=2, jsonl=True)
    with open(toy, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    rows[5]["answers"]["answer_start"] = [0]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    config = qa_config(path, max_bad_fraction=0.05, validation_fraction=0.3)
    read = qa_examples.read(config.data)
    data, train_windows, _ = qa_examples.prepare(read, config.data, _tokenizer(read[0]))
    assert data.report["bad_rows"] == 1
    assert data.report["bad_row_examples"][0].startswith(f"{path}:6: answers[0]: text ")
    assert len(data.train) + len(data.validation) == 79
    assert train_windows.example_index.max() == len(data.train) - 1


def test_an_answer_no_window_holds_whole_is_bad():
    words = " ".join(f"w{i}" for i in range(30))
    answer = " ".join(f"w{i}" for i in range(10, 22))  # 12 tokens
    examples = [QaExample("long", "which?", words, ((answer, words.index(answer)),)),
                QaExample("short", "which?", words, (("w3", words.index("w3")),))]
    config = qa_config("unused.json", max_seq_length=16, max_query_length=4, doc_stride=4,
                       max_bad_fraction=0.5)
    data, windows, _ = qa_examples.prepare((examples, examples[1:], [], 2), config.data,
                                           _tokenizer(examples))
    assert [e.id for e in data.train] == ["short"]
    assert "lies in no window whole" in data.report["bad_row_examples"][0]
    assert set(windows.example_index.tolist()) == {0}
    config.data.max_bad_fraction = 0.0
    with pytest.raises(DataError, match="lies in no window whole"):
        qa_examples.prepare((examples, examples[1:], [], 2), config.data, _tokenizer(examples))


def test_split_keeps_the_questions_of_a_context_together(tmp_path):
    config = qa_config(toy_qa.write_squad(tmp_path / "toy.json", 60, seed=3),
                       validation_fraction=0.3)
    train, validation, _, total = qa_examples.read(config.data)
    assert total == 240 and len(validation) % 4 == 0
    assert not {e.context for e in train} & {e.context for e in validation}


def test_config_needs_a_squad_file_and_windows_that_fit(tmp_path):
    with pytest.raises(ConfigError, match=r"^--config.data.train: got '', expected a SQuAD"):
        config_lib.validate(bert_qa.get_config())
    config = qa_config(toy_qa.write_squad(tmp_path / "t.json", 2))
    config_lib.validate(config)
    config.data.doc_stride = 60
    with pytest.raises(ConfigError, match=r"--config.data.doc_stride: got 60, expected at most"):
        config_lib.validate(config)
    config.data.doc_stride, config.data.allow_no_answer = 8, "maybe"
    with pytest.raises(ConfigError, match=r"--config.data.allow_no_answer: got 'maybe'"):
        config_lib.validate(config)
    with pytest.raises(ValueError, match="unknown variant 'huge'"):
        bert_qa.get_config("huge")


def test_loss_metric_and_model_round_trip_their_config():
    loss = span_head.SpanLoss.from_config(span_head.SpanLoss().get_config())
    logits = np.zeros((1, 4, 2), "float32")
    assert float(loss(np.array([[1, 2]]), logits)) == pytest.approx(np.log(4))
    metric = span_head.SpanAccuracy.from_config(span_head.SpanAccuracy().get_config())
    metric.update_state(np.array([[0, 1]]), np.array([[[5.0, 0], [0, 5], [0, 0]]]))
    assert float(metric.result()) == 1.0
    backbone = keras_hub.models.BertBackbone(vocabulary_size=20, num_layers=1, num_heads=2,
                                             hidden_dim=8, intermediate_dim=16,
                                             max_sequence_length=6)
    model = span_head.build_span_model(backbone, 0.1)
    assert tuple(keras.Model.from_config(model.get_config()).output.shape) == (None, None, 2)


@pytest.mark.slow
def test_cli_evaluates_and_predicts_a_qa_run(run, tmp_path):
    copy = helpers.copy_run(run[0], tmp_path / "run")  # evaluate rewrites its eval.json
    missing, evaluated, predicted = helpers.tfllm_all(
        ("train", "--config=configs/bert_qa.py:smoke"),
        ("evaluate", f"--workdir={copy}"),
        ("predict", f"--workdir={run[0]}", "--question=Where was Zoë Nguyễn born?",
         "--question=What did Zoë Nguyễn work as?", f"--context={CONTEXT}"))
    assert missing.returncode == 2
    assert "tfllm train: error: --config.data.train: got ''" in missing.stderr
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert re.search(r"validation: exact match \d+\.\d+  F1 \d+\.\d+", evaluated.stdout)
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    lines = [json.loads(line) for line in predicted.stdout.splitlines()[-2:]]
    assert [line["answer"] for line in lines] == ["São Paulo", "pilot"]
    assert lines[0]["question"] == "Where was Zoë Nguyễn born?"


def test_lora_trains_only_the_adapters_and_the_span_layer(tmp_path, capsys):
    config = qa_config(toy_qa.write_squad(tmp_path / "toy.json", 60, seed=5))
    config.train.lora.rank = 2
    config.train.epochs, config.train.steps_per_epoch = 1, 5
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
        elif "span_logits" in weight.path:
            expected += int(np.prod(weight.shape))
    assert trained == expected
    assert os.path.exists(os.path.join(workdir, "adapters.npz"))


def test_a_killed_run_resumes_from_its_last_backup(tmp_path, monkeypatch, capsys):
    helpers.kill_at_step(monkeypatch, 13)
    config = qa_config(toy_qa.write_squad(tmp_path / "toy.json", 60, seed=4))
    config.train.steps_per_epoch, config.train.backup_every_steps = 10, 5
    workdir = str(tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        tfllm.train(config, workdir)
    assert not os.path.exists(os.path.join(workdir, "model.keras"))
    monkeypatch.undo()
    report = tfllm.train(config, workdir)
    assert "resumed from step 10 (after epoch 1)" in capsys.readouterr().out
    assert report["questions"] > 0 and not os.path.exists(os.path.join(workdir, "backup"))
    with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
        assert [json.loads(line)["step"] for line in f] == [10, 20]
