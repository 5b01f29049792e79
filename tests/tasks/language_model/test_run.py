"""The language-model run end to end: work directory, perplexity, prompt masking, generation."""

import json
import os

import numpy as np
import pytest

import tfllm
from tfllm.configs import gpt_lm
from tfllm.data import bpe
from tfllm.data import lm_pipeline
from tfllm.data.records import Record
from tfllm.errors import DataError
from tfllm.generation.sampling import GenerationError
from tfllm.models import gpt_backbone as gpt
from tfllm.training import compiling


@pytest.fixture
def run(gpt_run):
    """(workdir, the validation report it saved in eval.json) of the shared `tfllm train`
    `:smoke` GPT run (tests/conftest.py)."""
    workdir, _ = gpt_run
    with open(os.path.join(workdir, "eval.json"), encoding="utf-8") as f:
        return workdir, json.load(f)


def test_run_writes_the_work_directory_and_perplexity(run, gpt_run):
    workdir, report = run
    printed = gpt_run[1].stdout  # `tfllm train` prints the report tfllm.train returned
    assert (f"validation perplexity {report['perplexity']:.2f} on {report['tokens']} tokens "
            f"(unigram baseline {report['unigram_perplexity']:.2f})") in printed
    for name in ("config.json", "tokenizer/vocab.json", "tokenizer/merges.txt", "model.keras",
                 "metrics.jsonl", "eval.json", "data_report.json"):
        assert os.path.exists(os.path.join(workdir, name)), name
    with open(os.path.join(workdir, "metrics.jsonl"), encoding="utf-8") as f:
        epochs = [json.loads(line) for line in f]
    assert len(epochs) == 2
    for epoch in epochs:  # val_loss averages batch means; val_perplexity pools the tokens
        assert epoch["val_perplexity"] == pytest.approx(np.exp(epoch["val_loss"]), rel=5e-3)
        assert epoch["tokens_per_sec"] > 0
    assert report["perplexity"] == pytest.approx(np.exp(report["loss"]), rel=1e-6)
    assert report["tokens"] > 1000 and report["unigram_perplexity"] > 1
    with open(os.path.join(workdir, "config.json"), encoding="utf-8") as f:
        saved = json.load(f)
    assert saved["data"]["format"] == "pairs"
    assert saved["model"]["backbone"]["max_sequence_length"] == 32


def test_pipeline_generates_after_the_templated_prompt(run):
    workdir, _ = run
    generator = tfllm.pipeline("text-generation", model=workdir)
    results = generator(["What is AI?", "Hi"], max_new_tokens=5)
    assert len(results) == 2
    for prompt, result in zip(["What is AI?", "Hi"], results):
        assert result["generated_text"] == f"{prompt}\n" + result["completion"]
    raw = generator("What is AI?", max_new_tokens=5, apply_template=False)
    assert raw[0]["generated_text"].startswith("What is AI?")
    again = generator(["What is AI?", "Hi"], max_new_tokens=5)
    assert again == results  # greedy by default: deterministic


def test_language_model_evaluates_a_text_file(run, tmp_path):
    workdir, _ = run
    path = tmp_path / "held_out.txt"
    path.write_text("What is your name?\n\nI like to talk about science.\n", encoding="utf-8")
    model = tfllm.load(workdir)
    report = model.evaluate(str(path))
    assert report["source"] == str(path)
    assert report["tokens"] > 5 and report["perplexity"] > 1
    assert model.trained_on_pairs  # reading a documents file changed nothing of the run
    assert model.prompt_text("Hi") == "Hi\n"
    with pytest.raises(DataError, match="--data: data file not found"):
        model.evaluate(str(tmp_path / "missing.txt"))


def test_generation_arguments_are_checked(run):
    model = tfllm.load(workdir=run[0])
    with pytest.raises(GenerationError, match="prompt: prompt 1 is empty"):
        model.generate(["hello", "  "])
    with pytest.raises(GenerationError, match="max_new_tokens: .* context window of 31 tokens"):
        model.generate(["hello " * 40], max_new_tokens=2)
    with pytest.raises(GenerationError, match="max_length: got 40, more than .* 31 tokens"):
        model.generate(["hello"], max_length=40)
    with pytest.raises(GenerationError, match="temperature: the 'greedy' sampler does not use it"):
        model.generate(["hello"], temperature=0.5)
    with pytest.raises(GenerationError, match="top_p"):
        model.generate(["hello"], sampler="top_p", top_p=2.0)


def test_bfloat16_weights_decode_the_same_prompts(run):
    model = tfllm.load(workdir=run[0])
    model.set_weights_dtype("bfloat16")
    assert {w.dtype for w in model.decoder.causal_lm.weights} == {"bfloat16"}
    assert {w.dtype for w in model.model.weights} == {"float32"}  # evaluation keeps float32
    bfloat16 = model.generate(["What is AI?", "Hi"], max_new_tokens=6)
    assert len(bfloat16) == 2 and all(isinstance(text, str) for text in bfloat16)
    with pytest.raises(GenerationError, match="weights_dtype: got 'int4'"):
        model.set_weights_dtype("int4")


def test_draft_tokens_decode_float32_greedy_text_speculatively(run):
    model = tfllm.load(workdir=run[0])
    prompt = ["What is AI?"]
    plain = model.generate(prompt, max_new_tokens=10)
    model.set_weights_dtype("float32", draft_tokens=3)
    assert model.generate(prompt, max_new_tokens=10) == plain
    assert model.decoder.drafted > 0  # the speculative path ran
    with pytest.raises(GenerationError, match="draft_tokens: speculative decoding verifies"):
        model.set_weights_dtype("bfloat16", draft_tokens=3)


def test_prompt_tokens_carry_no_loss():
    tokenizer = bpe.build_tokenizer(*bpe.learn(["question answer words"] * 5, 300))
    tokenize = lm_pipeline.tokenize_fn(tokenizer, gpt_lm.get_config().data.cleaning)
    records = [Record(text="a question", text_pair="its answer"), Record(text="b", text_pair="c")]
    blocks, stream = lm_pipeline.packed_blocks(records, tokenize, 0, True, "{prompt}\n", 8)

    config = gpt_lm.get_config("smoke")
    model = gpt.build_causal_lm({"vocabulary_size": tokenizer.vocabulary_size(), "num_layers": 1,
                                 "num_heads": 2, "hidden_dim": 8, "intermediate_dim": 16,
                                 "dropout": 0.0, "max_sequence_length": 8})
    compiling.compile_token_model(model, config, steps_per_epoch=1)

    def loss(targets):
        features = {"token_ids": blocks["token_ids"], "padding_mask": blocks["padding_mask"]}
        return model.evaluate(features, targets, sample_weight=blocks["weights"], verbose=0)[0]

    prompt_positions = blocks["padding_mask"] & (blocks["weights"] == 0)
    response_positions = blocks["weights"] > 0
    assert prompt_positions.sum() >= 4 and response_positions.sum() >= 4
    scrambled = blocks["targets"].copy()
    scrambled[prompt_positions] = (scrambled[prompt_positions] + 7) % tokenizer.vocabulary_size()
    assert loss(scrambled) == pytest.approx(loss(blocks["targets"]), abs=1e-6)
    changed = blocks["targets"].copy()
    changed[response_positions] = (changed[response_positions] + 7) % tokenizer.vocabulary_size()
    assert loss(changed) != pytest.approx(loss(blocks["targets"]), abs=1e-4)
    assert len(stream) == blocks["padding_mask"].sum() + 1


def test_training_can_reuse_gpt2_format_vocabulary_files(run, tmp_path):
    workdir, _ = run
    config = gpt_lm.get_config("smoke")
    config.tokenizer.vocabulary = os.path.join(workdir, "tokenizer")
    config.train.epochs = 1
    tfllm.train(config, str(tmp_path / "reused"))
    for name in ("vocab.json", "merges.txt"):
        with open(os.path.join(workdir, "tokenizer", name), encoding="utf-8") as f:
            original = f.read()
        with open(tmp_path / "reused" / "tokenizer" / name, encoding="utf-8") as f:
            assert f.read() == original
