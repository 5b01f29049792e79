"""Every notebook under notebooks/ runs top to bottom without error and shows what it promises.

The execution tests run each notebook with nbclient in its own kernel and a fresh temporary
directory (its relative `runs/` and `exports/` paths land there). The kernels run two at a time:
much of a notebook's time is one core tracing TensorFlow graphs. The size test is fast:
committed notebooks carry no outputs, or at most `MAX_OUTPUT_BYTES` of them.
"""

import asyncio
import glob
import json
import os

import nbformat
import pytest
from nbclient import NotebookClient

from tests.helpers import selected_params

NOTEBOOK_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks")
NOTEBOOKS = sorted(glob.glob(os.path.join(NOTEBOOK_DIR, "*.ipynb")))

# Text each notebook must print (stdout or a cell's plain-text result) when it runs.
EXPECTED_TEXT = {
    "01_fine_tune_bert.ipynb": [
        "validation accuracy", "majority baseline", "macro-F1", "precision", "support",
        "refused:", "loaded model: validation accuracy"],
    "02_train_gpt_and_generate.ipynb": [
        "validation perplexity", "unigram baseline", "seed 0:", "seed 1:"],
    "03_export_and_serve.ipynb": [
        "exported", "loaded SavedModel", "served label:", "served and Keras predictions agree",
        "curl", "serve_examples label:"],
    "04_start_from_pretrained.ipynb": [
        "weights loaded", "start from random values", "from scratch: validation accuracy",
        "MiniLM: validation accuracy"],
}
MAX_OUTPUT_BYTES = 200_000


def output_text(outputs):
    """stdout and plain-text results of `outputs` (stderr, where TensorFlow logs, left out)."""
    parts = []
    for output in outputs:
        if output.output_type == "stream" and output.name == "stdout":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def test_there_are_notebooks_and_each_has_expectations():
    assert sorted(os.path.basename(path) for path in NOTEBOOKS) == sorted(EXPECTED_TEXT)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_committed_notebook_outputs_are_small(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    outputs = [cell.get("outputs", []) for cell in notebook.cells if cell.cell_type == "code"]
    size = len(json.dumps(outputs).encode("utf-8")) if any(outputs) else 0
    assert size < MAX_OUTPUT_BYTES, f"{path}: {size} bytes of outputs; clear them before committing"
    assert notebook.cells[0].cell_type == "markdown", "start with a cell saying what it shows"


async def execute_all(notebooks, directories, at_once=2):
    """Executes each notebook in its own kernel and directory, `at_once` kernels at a time;
    returns, per notebook, None or the exception its execution raised."""
    limit = asyncio.Semaphore(at_once)

    async def execute(notebook, directory):
        async with limit:
            await NotebookClient(notebook, timeout=600, kernel_name="python3",
                                 resources={"metadata": {"path": directory}}).async_execute()

    return await asyncio.gather(*map(execute, notebooks, directories), return_exceptions=True)


@pytest.fixture(scope="module")
def executed(request, tmp_path_factory):
    """{path: executed notebook} for the notebooks this session's tests execute.

    Raises the exception of a notebook whose execution failed when its test asks for it."""
    paths = selected_params(request, "test_notebook_executes", "path")
    paths = sorted(paths, reverse=True)  # 04, the longest (it fine-tunes MiniLM), first
    notebooks = [nbformat.read(path, as_version=4) for path in paths]
    directories = [str(tmp_path_factory.mktemp(os.path.basename(path).split(".")[0]))
                   for path in paths]
    errors = asyncio.run(execute_all(notebooks, directories))
    return {path: (error or notebook) for path, notebook, error in zip(paths, notebooks, errors)}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_executes(path, executed):
    notebook = executed[path]
    if isinstance(notebook, BaseException):
        raise notebook
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, "\n".join(f"{o.ename}: {o.evalue}" for o in errors)
    text = output_text(outputs)
    missing = [s for s in EXPECTED_TEXT[os.path.basename(path)] if s not in text]
    assert not missing, f"not printed: {missing}\n--- output:\n{text[-3000:]}"
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, "no plot was shown"
