"""`tfllm export`: write a finished run as a TF Serving model version, and say how to serve it."""

import os

from absl import flags

from tfllm.cli import app

_WORKDIR = flags.DEFINE_string("workdir", None, "Work directory of a finished run.", required=True)
_EXPORT_DIR = flags.DEFINE_string(
    "export_dir", None, "TF Serving model directory; the version goes in EXPORT_DIR/N/.",
    required=True)
_VERSION = flags.DEFINE_integer("version", None, "Version number; default: the next free one.")
_ADAPTERS = flags.DEFINE_string(
    "adapters", None, "A LoRA run's adapter file (e.g. checkpoints/ckpt-0003.adapters.npz) to "
    "export merged into the run's base model; default: the run's model.keras (already merged).")


def main(argv):
    from tfllm.serving import describe, writer  # pylint: disable=import-outside-toplevel

    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    version_dir = writer.export(_WORKDIR.value, _EXPORT_DIR.value, version=_VERSION.value,
                                adapters=_ADAPTERS.value)
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
