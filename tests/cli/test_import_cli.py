"""`tfllm import` writes a pretrained decoder as a run; `tfllm generate` then continues text."""

import json
import os

from tests.helpers import error_line, tfllm, tfllm_all
from tests.models.test_gguf import CONFIG, hf_llama_weights, write_gguf


def test_import_a_gguf_file_then_generate(tmp_path):
    path = write_gguf(tmp_path / "toy.gguf", hf_llama_weights(CONFIG), CONFIG)
    workdir = str(tmp_path / "toy")
    result = tfllm("import", f"--config.model.init_from={path}", f"--workdir={workdir}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"init_from: {2 * 9 + 2} weights loaded from {path}" in result.stdout
    assert f"tfllm generate --workdir={workdir}" in result.stdout
    with open(os.path.join(workdir, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    assert config["model"]["architecture"] == "llama" and config["data"]["format"] == "documents"

    # Generating reads the run; importing again must refuse before writing: side by side.
    result, again = tfllm_all(
        ("generate", f"--workdir={workdir}", "--prompt=the answer", "--max_new_tokens=3"),
        ("import", f"--config.model.init_from={path}", f"--workdir={workdir}"))
    assert result.returncode == 0, result.stderr[-3000:]
    line = json.loads(result.stdout)
    assert line["completion"] and line["generated_text"] == "the answer" + line["completion"]
    assert again.returncode == 2 and "already holds a model.keras" in error_line(again)


def test_import_needs_a_checkpoint_and_a_decoder(tmp_path):
    result, classifier = tfllm_all(
        ("import", f"--workdir={tmp_path / 'x'}"),
        ("import", "--config=configs/bert_classifier.py", "--config.model.init_from=configs",
         f"--workdir={tmp_path / 'x'}"))
    assert result.returncode == 2
    assert "--config.model.init_from: empty; name the checkpoint" in error_line(result)
    assert classifier.returncode == 2
    assert "tfllm import writes language models" in error_line(classifier)
