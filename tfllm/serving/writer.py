"""Writes a trained run as a TF Serving model version: EXPORT_DIR/<version>/.

The version directory appears only when complete: the SavedModel is written
to a temporary sibling and renamed, so a failed export leaves nothing behind,
and an existing version is never overwritten.
"""

import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from tfllm.classifier import TextClassifier
from tfllm.errors import TfllmError
from tfllm.serving.classifier_module import ClassifierModule
from tfllm.serving.warmup import write_warmup_requests
from tfllm.workdir import Paths


def next_version(export_dir):
    """Returns 1 + the largest integer version under `export_dir` (1 if none)."""
    if not os.path.isdir(export_dir):
        return 1
    versions = [int(name) for name in os.listdir(export_dir) if name.isdigit()]
    return max(versions, default=0) + 1


def export(workdir, export_dir, version=None):
    """Exports the finished run in `workdir`; returns the version directory written."""
    version = next_version(export_dir) if version is None else int(version)
    target = os.path.join(export_dir, str(version))
    if os.path.exists(target):
        raise TfllmError(f"{target} exists; versions are never overwritten "
                         f"(the next free one is {next_version(export_dir)})")
    classifier = TextClassifier(workdir)
    config = classifier.config
    module = ClassifierModule(classifier.model, classifier.to_features, classifier.labels,
                              pair=bool(config.data.text_pair_column))
    paths = Paths(workdir)
    module.vocabulary_file = tf.saved_model.Asset(paths.vocabulary)
    module.labels_file = tf.saved_model.Asset(paths.labels)
    os.makedirs(export_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{version}-", dir=export_dir)
    try:
        tf.saved_model.save(module, staging, signatures=module.signatures())
        write_warmup_requests(staging, warmup_requests(module))
        os.rename(staging, target)
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging)
    return target


WARMUP_TEXTS = ["What is AI?", ""]


def _example(fields):
    """A serialized tf.Example with one bytes feature per (name, text) of `fields`."""
    feature = {name: tf.train.Feature(bytes_list=tf.train.BytesList(value=[text.encode()]))
               for name, text in fields.items()}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def warmup_requests(module):
    """One request per signature of a ClassifierModule, on WARMUP_TEXTS."""
    names = ["text", "text_pair"] if module.pair else ["text"]
    inputs = {name: np.array(WARMUP_TEXTS, dtype=object) for name in names}
    examples = [_example({name: text for name in names}) for text in WARMUP_TEXTS]
    features = module.to_features(*(tf.constant(WARMUP_TEXTS) for _ in names))
    return [
        ("serving_default", inputs),
        ("serve_examples", {"examples": np.array(examples, dtype=object)}),
        ("serve_token_ids", {key: np.asarray(value) for key, value in features.items()}),
    ]
