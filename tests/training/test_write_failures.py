"""A disk that fills up mid-write: the previous good file is left byte-identical, nothing
half-written stays behind, and the write stops with one TfllmError naming the path and why.

The failures are real. Where the test can mount one (root on Linux), the files live on a
small tmpfs that the test fills up until a few KiB are left: writes fail with ENOSPC, "No
space left on device". Elsewhere each case runs in a subprocess under a file size limit
(RLIMIT_FSIZE, SIGXFSZ ignored): a file that grows past it fails with EFBIG, "File too
large". TFLLM_TEST_FULL_DISK=rlimit picks the second where both work.
"""

import contextlib
import functools
import json
import os
import re
import resource
import signal
import subprocess
import sys
import warnings

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

import tfllm
from tests import helpers
from tfllm.configs import bert_classifier
from tfllm.errors import TfllmError
from tfllm.models import lora
from tfllm.serving import writer
from tfllm.tasks.classification import head as heads
from tfllm.training import backup
from tfllm.training import callbacks as callbacks_lib
from tfllm.training import run
from tfllm.workdir import Paths

REASONS = r"(No space left on device|File too large)"
LEAVE = 4096  # bytes a write may still add before it fails
SMALL = {"vocabulary_size": 1000, "num_layers": 2, "num_heads": 4, "hidden_dim": 64,
         "intermediate_dim": 128, "max_sequence_length": 16, "dropout": 0.0}


def can_mount(directory):
    """True if this process can mount a tmpfs (then unmounted again)."""
    if os.environ.get("TFLLM_TEST_FULL_DISK") == "rlimit" or not sys.platform.startswith("linux"):
        return False
    os.makedirs(directory, exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(directory)],
                      capture_output=True, check=False).returncode != 0:
        return False
    unmount(directory)
    return True


def unmount(directory):
    if subprocess.run(["umount", str(directory)], capture_output=True, check=False).returncode:
        subprocess.run(["umount", "-l", str(directory)], capture_output=True, check=False)


@pytest.fixture(scope="module")
def disk(tmp_path_factory):
    """"tmpfs" or "rlimit": how this machine makes a write fail (module docstring)."""
    return "tmpfs" if can_mount(tmp_path_factory.mktemp("probe") / "mnt") else "rlimit"


@contextlib.contextmanager
def tmpfs(directory, size="16m"):
    os.makedirs(directory, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
                   check=True)
    try:
        yield str(directory)
    finally:
        unmount(directory)


@contextlib.contextmanager
def full(disk_kind, mount, leave=LEAVE):
    """For the body, a write that adds more than `leave` bytes fails: the tmpfs at `mount`
    filled up but for `leave` bytes, or (in this process) files limited to `leave` bytes."""
    if disk_kind == "tmpfs":
        filler = os.path.join(mount, "filler")
        stat = os.statvfs(mount)
        with open(filler, "wb") as f:
            f.write(bytes(max(stat.f_bavail * stat.f_frsize - leave, 0)))
        try:
            yield
        finally:
            os.remove(filler)
    else:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit: EFBIG
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (leave, hard))
        try:
            yield
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def attempt(write):
    """The message of the TfllmError `write()` raises (None if it raises none)."""
    try:
        write()
    except TfllmError as error:
        return str(error)
    return None


# The cases: each writes a good file under `root`, then fails to replace it inside
# `failing()`; returns {"error": the message, "before": the files before, ...}.

def trained_model(with_lora=False):
    """The small BERT classifier after two Adam steps (its optimizer built); one per process,
    shared by the cases (each changes its weights)."""
    return _trained_model(bool(with_lora))


@functools.cache
def _trained_model(with_lora):
    keras.utils.set_random_seed(0)
    model = heads.build_classifier(keras_hub.models.BertBackbone(**SMALL), num_classes=3,
                                   dropout=0.0)
    if with_lora:
        lora.apply_lora(model, 8, targets=("value", "feedforward_output_dense"),
                        train_also=("logits",))
    model.compile(optimizer=keras.optimizers.Adam(0.01), jit_compile=False,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = {"token_ids": rng.integers(1, 1000, (4, 16)).astype("int32"),
         "segment_ids": np.zeros((4, 16), "int32"), "padding_mask": np.ones((4, 16), bool)}
    model.fit(x, np.arange(4) % 3, batch_size=4, epochs=2, verbose=0, shuffle=False)
    return model


def changed(model):
    for variable in model.trainable_variables:
        variable.assign(variable + 0.5)


def best_checkpoint_case(root, failing, with_lora=False):
    model = trained_model(with_lora)
    callback = callbacks_lib.BestCheckpoint(os.path.join(root, "best.weights.h5"),
                                            "val_loss", "min")
    callback.set_model(model)
    callback.on_epoch_end(0, {"val_loss": 1.0})
    before, weights = helpers.fingerprint(root), model.get_weights()
    changed(model)
    with failing():
        error = attempt(lambda: callback.on_epoch_end(1, {"val_loss": 0.5}))
    callbacks_lib.load_checkpoint(model, callback.path)  # the kept file loads: epoch 1's
    restored = all(np.array_equal(a, b) for a, b in zip(model.get_weights(), weights,
                                                          strict=True))
    return {"error": error, "before": before, "best": callback.best, "restored": restored}


def adapters_case(root, failing):
    return best_checkpoint_case(root, failing, with_lora=True)


def backup_case(root, failing):
    model = trained_model()
    callback = backup.Backup(os.path.join(root, "backup"), steps_per_epoch=3)
    callback.set_model(model)
    callback.step = 3
    callback.save(epoch_end=True)
    before = helpers.fingerprint(root)
    changed(model)
    callback.step = 6
    with failing():
        error = attempt(lambda: callback.save(epoch_end=True))
    return {"error": error, "before": before,
            "latest": backup.latest(os.path.join(root, "backup")).step}


def metrics_log_case(root, failing):
    model = trained_model()
    callback = callbacks_lib.MetricsLog(os.path.join(root, "metrics.jsonl"), 4, 16)
    callback.set_model(model)
    for epoch in (0, 1):
        callback.on_epoch_begin(epoch)
        callback.on_train_batch_end(0)
        if epoch == 0:
            callback.on_epoch_end(epoch, {"loss": 1.0})
            before = helpers.fingerprint(root)
    many = {"loss": 0.5, **{f"val_metric_{i}": 0.25 for i in range(1000)}}  # a 25 KB line
    with failing():
        error = attempt(lambda: callback.on_epoch_end(1, many))
    return {"error": error, "before": before}


def tensorboard_case(root, failing):
    """TensorBoard's event files are appended to: what they lose is the failed epoch."""
    model = trained_model()
    callback = callbacks_lib.TensorBoard(os.path.join(root, "logs"), update_freq="epoch")
    callback.set_model(model)
    callback.on_train_begin()
    callback.on_epoch_end(0, {"loss": 1.0})
    many = {"loss": 0.5, **{f"val_metric_{i}": 0.25 for i in range(1000)}}
    with failing():
        error = attempt(lambda: (callback.on_epoch_end(1, many), callback.on_train_end()))
    return {"error": error}


def model_keras_case(root, failing):
    model = trained_model()
    paths = Paths(os.path.join(root, "run"))
    os.makedirs(paths.root)
    run.save_model(model, paths)
    os.makedirs(os.path.join(paths.backup, "step-000000003"))  # a run that resumed, then
    with open(os.path.join(paths.backup, "step-000000003", "state.json"), "w") as f:
        f.write("{}")  # failed to save: its backups must stay
    before = helpers.fingerprint(root)
    changed(model)
    optimizer = model.optimizer
    with failing():
        error = attempt(lambda: run.save_model(model, paths))
    return {"error": error, "before": before,
            "still_compiled": model.compiled and model.optimizer is optimizer}


class Scaler(tf.Module):
    """A serving module with a 128 KiB variable."""

    def __init__(self):
        super().__init__()
        self.table = tf.Variable(np.arange(32768, dtype=np.float32))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def serve(self, x):
        return {"y": x * self.table[1]}

    def signatures(self):
        return {"serving_default": self.serve}


def export_case(root, failing):
    export_dir = os.path.join(root, "export")
    writer.write_version(Scaler(), [], export_dir)
    before = helpers.fingerprint(root)
    with failing():
        error = attempt(lambda: writer.write_version(Scaler(), [], export_dir))
    return {"error": error, "before": before}


def prepared_case(root, failing, merges=False):
    """What every task's `prepare` writes once its checks passed: the tokenizer (vocab.txt,
    or vocab.json and merges.txt), labels.txt, config.json, data_report.json."""
    paths = Paths(os.path.join(root, "run"))
    config = bert_classifier.get_config("smoke")

    def save(tokens, labels):
        vocabulary = {t: i for i, t in enumerate(tokens)} if merges else tokens
        run.save_prepared(paths, config, {"rows": len(tokens)}, vocabulary,
                          merges=[f"{t[0]} {t[1:]}" for t in tokens] if merges else None,
                          labels=labels)

    save(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "ab"], ["a", "b"])
    before = helpers.fingerprint(root)
    with failing():  # a tokenizer learned again, too big for the disk
        error = attempt(lambda: save([f"token{i:05d}" for i in range(2000)], ["a", "b", "c"]))
    return {"error": error, "before": before}


def bpe_prepared_case(root, failing):
    return prepared_case(root, failing, merges=True)


CASES = {"prepared": prepared_case, "bpe_prepared": bpe_prepared_case,
         "best_checkpoint": best_checkpoint_case, "adapters": adapters_case,
         "backup": backup_case, "metrics_log": metrics_log_case,
         "tensorboard": tensorboard_case, "model_keras": model_keras_case,
         "export": export_case}

CHILD = """
import json, sys
from tests.training import test_write_failures as t
name, root = sys.argv[1:]
result = t.CASES[name](root, lambda leave=t.LEAVE: t.full("rlimit", root, leave))
print(json.dumps(result))
"""


@pytest.fixture
def outcome(disk, tmp_path):
    """Runs a case of CASES on a failing disk; its result, with "after": the files after."""
    def run_case(name):
        if disk == "tmpfs":
            with tmpfs(tmp_path / "mnt") as mount:
                root = os.path.join(mount, "files")
                os.makedirs(root)
                result = CASES[name](root, lambda leave=LEAVE: full("tmpfs", mount, leave))
                return {**result, "after": helpers.fingerprint(root)}
        root = tmp_path / "files"
        root.mkdir()
        child = subprocess.run([sys.executable, "-c", CHILD, name, str(root)], cwd=helpers.REPO,
                               capture_output=True, text=True, timeout=300, check=False)
        assert child.returncode == 0, child.stderr[-3000:]
        return {**json.loads(child.stdout.splitlines()[-1]), "after": helpers.fingerprint(root)}
    return run_case


def failed_and_kept(result, message):
    """The write failed with a one-line error that fully matches `message` (a regex), and
    left every file as it was, and nothing else."""
    assert result["error"] is not None, "the write did not fail"
    assert re.fullmatch(message, result["error"]), result["error"]
    assert result["after"] == result["before"]


AGAIN = "; run the same command again once that is fixed"


@pytest.mark.parametrize("name,file", [("prepared", "vocab.txt"),
                                       ("bpe_prepared", "vocab.json"),
                                       ("best_checkpoint", "best.weights.h5"),
                                       ("adapters", "best.adapters.npz"),
                                       ("metrics_log", "metrics.jsonl"),
                                       ("model_keras", "model.keras")])
def test_a_full_disk_mid_write_keeps_the_previous_file(outcome, name, file):
    result = outcome(name)
    failed_and_kept(result, rf"/\S+/{re.escape(file)}: the file could not be written "
                            rf"\({REASONS}\); the previous file there is unchanged{AGAIN}")
    if name in ("best_checkpoint", "adapters"):
        assert result["best"] == 1.0  # not the epoch whose weights were not saved
        assert result["restored"]
    if name == "model_keras":  # its backups are kept ("after"), the model still compiled
        assert result["still_compiled"]


def test_a_full_disk_mid_backup_keeps_the_previous_backup(outcome):
    result = outcome("backup")
    failed_and_kept(result, rf"(/\S+)/backup/step-000000006: the backup could not be written "
                            rf"\({REASONS}\); nothing of it was left, the previous backup "
                            rf"\1/backup/step-000000003 is kept{AGAIN}")
    assert result["latest"] == 3  # and it verifies: its digests match


def test_a_full_disk_under_the_tensorboard_logs_stops_with_one_line(outcome):
    result = outcome("tensorboard")
    assert result["error"] is not None, "the write did not fail"
    assert re.fullmatch(rf"/\S+/logs: the TensorBoard log could not be written \({REASONS}\); "
                        rf"the run's backups are unchanged{AGAIN}", result["error"])


def test_a_full_disk_mid_export_leaves_the_versions_as_they_were(outcome):
    result = outcome("export")  # version 1 kept; no staging directory, no lock file left
    failed_and_kept(result, rf"/\S+/export/2: the export could not be written \({REASONS}\); "
                            rf"nothing was left behind{AGAIN}")


FILL_UP_AT_EPOCH_2 = """
import sys
import keras
from tests.training import test_write_failures as t
from tfllm.cli import main as cli
from tfllm.training import callbacks as callbacks_lib

disk_kind, mount = sys.argv[1:3]


class FillUp(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:  # full from here to the end (kept: collected, it would empty)
            self.full = t.full(disk_kind, mount, 65536)  # emptied as the process ends
            self.full.__enter__()


standard = callbacks_lib.standard_callbacks
callbacks_lib.standard_callbacks = lambda *args, **kwargs: [FillUp()] + standard(*args, **kwargs)
sys.exit(cli.main(["tfllm"] + sys.argv[3:]))
"""


def test_a_run_whose_disk_fills_up_stops_with_one_line_and_resumes_once_there_is_room(
        disk, tmp_path):
    data = helpers.write_csv(tmp_path / "train.csv", helpers.toy_topics(40))
    config = helpers.smoke_config(train=data, batch_size=8)
    config.train.epochs = 3
    with (tmpfs(tmp_path / "mnt") if disk == "tmpfs"
          else contextlib.nullcontext(str(tmp_path))) as mount:
        paths = Paths(os.path.join(mount, "run"))
        child = subprocess.run(
            [sys.executable, "-c", FILL_UP_AT_EPOCH_2, disk, mount, "train", helpers.SMOKE,
             f"--config.data.train={data}", "--config.data.batch_size=8",
             "--config.train.epochs=3", f"--workdir={paths.root}"],
            cwd=helpers.REPO, capture_output=True, text=True, timeout=600, check=False)
        assert child.returncode == 2, child.stderr[-3000:]
        assert "Traceback" not in child.stderr, child.stderr[-3000:]
        # The first file too big for what was left: epoch 2's periodic checkpoint.
        assert re.search(rf"{paths.checkpoints}/ckpt-0002.weights.h5: the file could not be "
                         rf"written \({REASONS}\); nothing was left half-written",
                         helpers.error_line(child))
        assert sorted(os.listdir(paths.checkpoints)) == ["best.weights.h5",
                                                         "ckpt-0001.weights.h5"]
        assert backup.latest(paths.backup).step == 3  # epoch 1's backup, its digests match
        assert not os.path.exists(os.path.join(mount, "filler"))  # room again: gone with it
        tfllm.train(config, paths.root)  # the same run again
        with open(paths.metrics, encoding="utf-8") as f:
            assert [json.loads(line)["step"] for line in f] == [3, 6, 9]


def test_a_checkpoint_or_backup_directory_it_cannot_write_is_refused_before_any_work(
        disk, tmp_path, capsys):
    config = helpers.smoke_config(
        train=helpers.write_csv(tmp_path / "train.csv", helpers.toy_topics(40)))
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "backup").write_text("in the way")
    with pytest.raises(TfllmError, match=rf"^{workdir}/backup is a file; the run writes a "
                                         "directory there"):
        tfllm.train(config, str(workdir))
    assert "data:" not in capsys.readouterr().out  # refused before the data was read
    assert sorted(os.listdir(workdir)) == ["backup"]
    if disk == "tmpfs":  # a read-only filesystem mounted there
        (workdir / "backup").unlink()
        (workdir / "checkpoints").mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs",
                        str(workdir / "checkpoints")], check=True)
        try:
            with pytest.raises(TfllmError, match=rf"^{workdir}/checkpoints: cannot write there "
                                                 r"\(Read-only file system\)"):
                tfllm.train(config, str(workdir))
        finally:
            unmount(workdir / "checkpoints")
        assert "data:" not in capsys.readouterr().out
        assert sorted(os.listdir(workdir)) == ["checkpoints"]


def test_an_export_directory_it_cannot_write_is_refused_before_the_run_is_loaded(tmp_path):
    not_a_run = str(tmp_path / "not-a-run")  # loading it would fail: the refusal comes first
    with pytest.raises(TfllmError, match="^/sys/tfllm-export: cannot write there"):
        writer.export(not_a_run, "/sys/tfllm-export")


def test_model_keras_holds_the_model_alone_and_loads_without_warnings(tmp_path):
    config = helpers.smoke_config(
        train=helpers.write_csv(tmp_path / "train.csv", helpers.toy_topics(40)), batch_size=8)
    config.model.backbone.update(num_layers=2, hidden_dim=128, intermediate_dim=512)
    config.train.epochs = 1
    workdir = str(tmp_path / "run")
    tfllm.train(config, workdir)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = keras.saving.load_model(Paths(workdir).model)
    assert [str(w.message) for w in caught] == []
    assert not model.compiled  # no optimizer, loss or metrics: the backups had those
    weights = sum(4 * np.size(w) for w in model.get_weights())
    size = os.path.getsize(Paths(workdir).model)
    print(f"model.keras: {size} bytes for {weights} bytes of float32 weights")
    assert size < 1.3 * weights
    for ours, theirs in zip(model.get_weights(), tfllm.load(workdir).model.get_weights(),
                            strict=True):
        np.testing.assert_array_equal(ours, theirs)
