"""Writes a trained run as a TF Serving model version: EXPORT_DIR/<version>/.

The version directory appears only when complete: the SavedModel is written
to a temporary sibling and renamed, so a failed export leaves nothing behind,
and an existing version is never overwritten.
"""

import os
import shutil
import tempfile

import tensorflow as tf

from tfllm import atomic
from tfllm import locking
from tfllm.errors import TfllmError
from tfllm.models import lora
from tfllm.models import lora_files
from tfllm.serving import core_ops
from tfllm.serving.warmup import write_warmup_requests


def next_version(export_dir):
    """Returns 1 + the largest integer version under `export_dir` (1 if none)."""
    if not os.path.isdir(export_dir):
        return 1
    versions = [int(name) for name in os.listdir(export_dir) if name.isdigit()]
    return max(versions, default=0) + 1


def check_free(export_dir, version):
    """The path of version `version` under `export_dir`; TfllmError if it exists."""
    target = os.path.join(export_dir, str(version))
    if os.path.exists(target):
        raise TfllmError(f"{target} exists; versions are never overwritten "
                         f"(the next free one is {next_version(export_dir)})")
    return target


def export(workdir, export_dir, version=None, adapters=None):
    """Exports the finished run in `workdir`; returns the version directory written.

    The run's task (`tfllm.tasks.registry`) loads its predictor and builds the serving
    module and warmup requests; this writes them. A LoRA run's model.keras is already
    merged. `adapters` names one of its adapter files instead (say
    checkpoints/ckpt-0003.adapters.npz): the run's base model is rebuilt from its
    `model.init_from`, the file loaded onto it and merged, and that is exported.

    The export directory's lock is taken first: an unwritable `export_dir` (or one another
    export holds) is refused before the slow load.
    """
    from tfllm.tasks import registry  # pylint: disable=import-outside-toplevel
    with locking.locked(export_dir, "this export"):
        if version is not None:  # checked again when written; here before the slow load
            check_free(export_dir, int(version))
        task = registry.task_for_workdir(workdir)
        loaded = task.load(workdir)
        if adapters is not None:
            loaded.model = with_adapters(workdir, adapters)
        module, requests = task.export_parts(loaded)
        return _write_version(module, requests, export_dir, version)


def write_version(module, requests, export_dir, version=None):
    """Saves `module` (a tf.Module with `signatures()`) and its warmup `requests` as version
    `version` (default: the next free one) under `export_dir`, holding the directory's
    lock; returns the version directory. It appears only complete: staged in a sibling,
    then renamed. A failed write (a full disk) raises `atomic.WriteFailed` and leaves
    nothing behind."""
    with locking.locked(export_dir, "this export"):
        return _write_version(module, requests, export_dir, version)


def _write_version(module, requests, export_dir, version):
    """`write_version`, the lock held."""
    version = next_version(export_dir) if version is None else int(version)
    target = check_free(export_dir, version)
    staging = None
    try:
        staging = tempfile.mkdtemp(prefix=f".{version}-", dir=export_dir)
        os.chmod(staging, 0o755)  # mkdtemp's 0700 would hide it from a server of another user
        with core_ops.without_xla_ops():  # TF Serving runs no XLA by default
            tf.saved_model.save(module, staging, signatures=module.signatures())
        write_warmup_requests(staging, requests)
        os.rename(staging, target)
    except (OSError, tf.errors.OpError) as error:  # a full disk, a quota, a directory gone
        raise atomic.WriteFailed(
            f"{target}: the export could not be written ({atomic.reason(error)}); nothing "
            "was left behind; run the same command again once that is fixed") from None
    finally:
        if staging is not None and os.path.exists(staging):
            shutil.rmtree(staging, ignore_errors=True)
    return target

def with_adapters(workdir, adapters):
    """The base model of the run in `workdir` (`Task.base_model`) with the LoRA adapter file
    `adapters` loaded and merged into its weights: a plain model."""
    from tfllm.tasks import registry  # pylint: disable=import-outside-toplevel
    model = registry.task_for_workdir(workdir).base_model(workdir)
    lora_files.load_adapters(model, adapters)
    return lora.merge_lora(model)
