"""runtime.distribution: the tf.distribute strategy a run trains under, and who writes files.

Every strategy trains on the config's global batch (`data.batch_size`):
Keras splits each batch of the training stream across replicas, and a
multi-worker run shards it by data, so worker i of N gets the i-th slice of
every global batch and the run computes what one process would. Only the
chief (TF_CONFIG's "chief", else worker 0) writes the work directory; the
other workers compute the same and keep their files in a temporary
directory, deleted when they finish.
"""

import contextlib
import hashlib
import json
import os
import tempfile

import numpy as np
import tensorflow as tf

from tfllm.errors import ConfigError
from tfllm.training import keras_distribute_fix
from tfllm.workdir import Paths

def cluster_from_environment():
    """TF_CONFIG parsed, or None; ConfigError if it is set but not JSON."""
    raw = os.environ.get("TF_CONFIG", "")
    if not raw:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigError("runtime.distribution", f"TF_CONFIG is not JSON ({error})") from error


def strategy_for(runtime_config):
    """Returns the strategy `runtime.distribution` names (the default strategy for "none").

    A multi-worker strategy must exist before TensorFlow runs its first op:
    call this first thing in a process.
    """
    name = runtime_config.distribution
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=runtime_config.tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if name == "multi_worker" and cluster_from_environment() is None:
        raise ConfigError("runtime.distribution", (
            "multi_worker needs TF_CONFIG set in every worker's environment (see the README's "
            "\"Scaling out\"), or start local workers with tfllm train --num_workers=N"))
    keras_distribute_fix.apply()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    # mirrored: every local GPU, else every (logical) CPU device
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([device.name for device in devices])


def is_chief(distribution):
    """Whether this process writes the run's files: always, except on the workers of a
    `multi_worker` run other than TF_CONFIG's chief (worker 0 when there is none)."""
    if distribution != "multi_worker":
        return True
    environment = cluster_from_environment() or {}
    task = environment.get("task", {})
    kind, index = task.get("type", "worker"), task.get("index", 0)
    has_chief = "chief" in environment.get("cluster", {})
    return kind == "chief" or (kind == "worker" and index == 0 and not has_chief)


@contextlib.contextmanager
def workspace(paths, chief):
    """Yields the Paths this process writes to: the work directory on the chief, a temporary
    directory (deleted on exit) on the other workers."""
    if chief:
        yield paths
        return
    with tempfile.TemporaryDirectory(prefix="tfllm-worker-") as scratch:
        yield Paths(scratch)


def weights_digest(model):
    """A short hash of the model's weights; every worker of a healthy run prints the same."""
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()[:16]
