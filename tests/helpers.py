"""Small builders shared by tests: toy sizes so each test runs in seconds."""

import concurrent.futures
import csv
import functools
import hashlib
import os
import shutil
import subprocess
import sys

from tfllm.configs import bert_classifier

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TFLLM = os.path.join(os.path.dirname(sys.executable), "tfllm")
SMOKE = "--config=configs/bert_classifier.py:smoke"
TOY_BACKBONE = {"num_layers": 1, "num_heads": 2, "hidden_dim": 8, "intermediate_dim": 16}


def tfllm(*args, cwd=REPO):
    """Runs the installed console script; returns the CompletedProcess."""
    command = [TFLLM] if os.path.exists(TFLLM) else [sys.executable, "-m", "tfllm.cli.main"]
    return subprocess.run(command + list(args), cwd=cwd, capture_output=True, text=True,
                          timeout=600, check=False)


def side_by_side(*calls):
    """Calls each function (no arguments; each runs a subprocess) in its own thread, as many at
    once as there are cores: a process spends seconds importing TensorFlow on one core.
    Returns their results, in order; only for commands that do not depend on each other."""
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        return [future.result() for future in [pool.submit(call) for call in calls]]


def tfllm_all(*commands, cwd=REPO):
    """Runs several `tfllm` commands (each a tuple of arguments) `side_by_side`; returns their
    CompletedProcesses, in order."""
    return side_by_side(*[functools.partial(tfllm, *args, cwd=cwd) for args in commands])


def selected_params(request, test_name, param):
    """The values of parameter `param` in this session's cases of `test_name` (in the module of
    `request`): a fixture that prepares every case at once prepares only the selected ones."""
    return [item.callspec.params[param] for item in request.session.items
            if item.module is request.module and getattr(item, "originalname", "") == test_name]


def start(*command, cwd=REPO):
    """Starts `command` in the background (output captured) so the test can work meanwhile;
    `finish` waits for it."""
    return subprocess.Popen(list(command), cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(process, timeout=600):
    """Waits for a `start`ed process; fails the test unless it exits 0; returns its stdout."""
    stdout, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stdout[-3000:] + stderr[-3000:]
    return stdout


def error_line(result):
    """The one `...: error: ...` line a failed command wrote to stderr."""
    lines = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


def smoke_config(**data_overrides):
    """The `:smoke` config with `data` fields overridden."""
    config = bert_classifier.get_config("smoke")
    for key, value in data_overrides.items():
        config.data[key] = value
    return config


def write_csv(path, rows, header=("text", "label")):
    """Writes rows (tuples) under `header` as a CSV file and returns its path as str."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def toy_topics(n_per_label=40):
    """A learnable two-topic dataset: sport words vs. food words."""
    sport = ["goal", "match", "team", "score", "coach", "league", "player", "stadium"]
    food = ["pasta", "bread", "cheese", "soup", "salad", "recipe", "oven", "spice"]
    rows = []
    for i in range(n_per_label):
        rows.append((f"the {sport[i % 8]} and the {sport[(i * 3 + 1) % 8]} number {i}", "sport"))
        rows.append((f"some {food[i % 8]} with {food[(i * 5 + 2) % 8]} number {i}", "food"))
    return rows


def train_until_learned(tmp, rows, epochs=5):
    """Trains the smoke classifier on `rows` (full passes, batch 8, learning rate 0.01, a
    quarter held out) in `tmp/run`; returns (report, workdir)."""
    import tfllm  # pylint: disable=import-outside-toplevel

    config = smoke_config(train=write_csv(os.path.join(tmp, "train.csv"), rows),
                          validation_fraction=0.25, batch_size=8)
    config.train.epochs = epochs
    config.train.steps_per_epoch = 0
    config.train.learning_rate = 0.01
    workdir = os.path.join(tmp, "run")
    return tfllm.train(config, workdir), workdir


def export_with_cli(workdir, export_dir):
    """Runs `tfllm export`; returns its stdout (the test fails on a non-zero exit)."""
    tfllm_bin = os.path.join(os.path.dirname(sys.executable), "tfllm")
    result = subprocess.run([tfllm_bin, "export", f"--workdir={workdir}",
                             f"--export_dir={export_dir}"],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def saved_model_cli(command, version_dir, *args):
    """Runs `saved_model_cli COMMAND --dir VERSION_DIR ARGS`; returns its stdout.

    `run` loads the graph the TF1 way, as TF Serving does; the tensorflow-text
    ops must be registered first, so the tool runs with tensorflow_text imported.
    """
    tool = ("import sys, tensorflow_text; from tensorflow.python.tools import saved_model_cli; "
            "sys.argv[0] = 'saved_model_cli'; saved_model_cli.main()")
    result = subprocess.run([sys.executable, "-c", tool, command, "--dir", str(version_dir),
                             *args], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def saved_model_cli_show_and_run(version_dir, input_exprs):
    """(`saved_model_cli show --all`, `saved_model_cli run` of serving_default on
    `input_exprs`) printouts for one export, the two commands side by side."""
    return side_by_side(
        functools.partial(saved_model_cli, "show", version_dir, "--all"),
        functools.partial(saved_model_cli, "run", version_dir, "--tag_set", "serve",
                          "--signature_def", "serving_default", "--input_exprs", input_exprs))


def fingerprint(directory):
    """{relative path: sha256} of every file under `directory`: equal fingerprints, equal trees."""
    digests = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                digests[os.path.relpath(path, directory)] = hashlib.sha256(f.read()).hexdigest()
    return digests


def copy_run(workdir, destination):
    """Copies a shared run (see tests/conftest.py) to `destination`, for a test that writes
    into its work directory; returns the copy's path as str."""
    shutil.copytree(workdir, destination)
    return str(destination)


def kill_at_step(monkeypatch, step):
    """Makes the next `tfllm.train` in this process raise KeyboardInterrupt("killed") after
    optimizer step `step`, as a kill would stop it (its backups stay)."""
    import keras  # pylint: disable=import-outside-toplevel
    from tfllm.training import callbacks as callbacks_lib  # pylint: disable=import-outside-toplevel

    class Kill(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if int(self.model.optimizer.iterations.numpy()) == step:
                raise KeyboardInterrupt("killed")

    standard = callbacks_lib.standard_callbacks
    monkeypatch.setattr(callbacks_lib, "standard_callbacks",
                        lambda *args, **kwargs: standard(*args, **kwargs) + [Kill()])


def run_script(script, version_dir, requests):
    """Runs `script` (Python source) in a fresh interpreter with `version_dir` as its argument
    and `requests` as JSON on stdin; returns the JSON of its last output line. The export
    tests' scripts import only tensorflow and tensorflow_text, as TF Serving would."""
    import json  # pylint: disable=import-outside-toplevel
    result = subprocess.run([sys.executable, "-c", script, version_dir],
                            input=json.dumps(requests), capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])
