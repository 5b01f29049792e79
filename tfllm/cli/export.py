"""`tfllm export`: write a finished run, or a Keras model taking raw strings, as a TF Serving
model version, and say how to serve it."""

import os

from absl import flags

from tfllm.cli import app
from tfllm.cli import checks

_WORKDIR = flags.DEFINE_string("workdir", None, "Work directory of a finished run.")
_MODEL = flags.DEFINE_string(
    "model", None, "A .keras file of a Keras model from raw strings to class probabilities "
    "(say tfllm.tasks.classification.keras_flow.text_classifier); instead of --workdir.")
_EXPORT_DIR = flags.DEFINE_string(
    "export_dir", None, "TF Serving model directory; the version goes in EXPORT_DIR/N/.",
    required=True)
_VERSION = flags.DEFINE_integer(
    "version", None, "Version number, 1 or more (TF Serving serves positive versions only); "
    "default: the next free one.", lower_bound=1)
_ADAPTERS = flags.DEFINE_string(
    "adapters", None, "A LoRA run's adapter file (e.g. checkpoints/ckpt-0003.adapters.npz) to "
    "export merged into the run's base model; default: the run's model.keras (already merged).")
_LABELS = flags.DEFINE_string(
    "labels", None, "With --model: comma-separated class names in class-id order (the "
    "export then also returns `label`); default: ids only.")


def parse_labels(value):
    """The --labels names, in order; TfllmError on an empty or repeated name."""
    labels = [label.strip() for label in value.split(",")]
    if not all(labels):
        raise app.TfllmError(f"--labels: expected comma-separated class names, got {value!r}")
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise app.TfllmError(f"--labels: {repeated[0]!r} appears more than once")
    return labels


def export_model(path, export_dir, version, labels):
    """`tfllm export --model=...`: loads the .keras file (tfllm is imported, so its layers and
    keras-hub's are known) and writes it; returns the version directory."""
    from tfllm.serving import keras_model  # pylint: disable=import-outside-toplevel

    model = keras_model.load(path)
    try:
        keras_model.check_model(model)
    except app.TfllmError as error:
        raise app.TfllmError(f"--model: {error}") from error
    classes = model.outputs[0].shape[-1]
    if labels is not None and len(labels) != classes:
        raise app.TfllmError(f"--labels: {len(labels)} names, but {path} gives {classes} "
                             "probabilities per text")
    return keras_model.export(model, export_dir, version=version, labels=labels)


def check_flags():
    """The --labels names (or None), every flag checked that can be before TensorFlow."""
    if (_WORKDIR.value is None) == (_MODEL.value is None):
        raise app.TfllmError("give exactly one of --workdir (a finished run) or --model "
                             "(a .keras file)")
    labels = None
    if _MODEL.value is not None:
        checks.input_file("--model", _MODEL.value)
        if not _MODEL.value.endswith(".keras"):
            raise app.TfllmError(f"--model: {_MODEL.value} is not a .keras file")
        if _ADAPTERS.value is not None:
            raise app.TfllmError("--adapters: only with --workdir (a LoRA run)")
        labels = parse_labels(_LABELS.value) if _LABELS.value is not None else None
    else:
        checks.finished_run(_WORKDIR.value)
        if _LABELS.value is not None:
            raise app.TfllmError("--labels: only with --model (a run exports its own labels)")
        if _ADAPTERS.value is not None:
            checks.input_file("--adapters", _ADAPTERS.value)
    checks.output_dir("--export_dir", _EXPORT_DIR.value)
    if _VERSION.value is not None:
        target = os.path.join(_EXPORT_DIR.value, str(_VERSION.value))
        if os.path.exists(target):
            raise app.TfllmError(f"--version: {target} exists; versions are never overwritten "
                                 "(leave --version out for the next free one)")
    return labels


def main(argv):
    labels = check_flags()
    # pylint: disable=import-outside-toplevel
    from tfllm.serving import describe, writer
    from tfllm.tasks import base

    source = _MODEL.value or f"the run in {_WORKDIR.value}"
    base.progress(f"loading {source}, building its serving graph and writing a SavedModel "
                  f"version into {_EXPORT_DIR.value} ...")
    import tensorflow as tf

    if _MODEL.value is not None:
        version_dir = export_model(_MODEL.value, _EXPORT_DIR.value, _VERSION.value, labels)
    else:
        version_dir = writer.export(_WORKDIR.value, _EXPORT_DIR.value, version=_VERSION.value,
                                    adapters=_ADAPTERS.value)
    base.progress(f"reading {version_dir} back to describe it ...")
    signatures = tf.saved_model.load(version_dir).signatures  # loaded once, described twice
    model_name = os.path.basename(os.path.normpath(_EXPORT_DIR.value))
    print(f"exported {version_dir}")
    print("\n".join(describe.signature_lines(signatures)))
    print("custom ops (the serving binary must have them; TF Serving's builds include "
          f"the tensorflow-text ops): {', '.join(describe.custom_ops(version_dir))}")
    print("serve with:")
    print(f"  tensorflow_model_server --rest_api_port=8501 --model_name={model_name} "
          f"--model_base_path={os.path.abspath(_EXPORT_DIR.value)}")
    print("then:")
    print(f"  {describe.curl_line(model_name, describe.example_inputs(signatures))}")


def run(argv):
    app.run(main, argv)
