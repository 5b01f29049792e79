"""`tfllm train`: run an experiment config; with no flags, the default BERT topic classifier."""

import os

from absl import flags
from ml_collections import config_flags

from tfllm.cli import app
from tfllm.configs import DEFAULT_CONFIG

_CONFIG = config_flags.DEFINE_config_file(
    "config", DEFAULT_CONFIG, "Experiment file: configs/NAME.py[:VARIANT].", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", "", "Run directory; default runs/<experiment>.")


def main(argv):
    if len(argv) > 1:
        raise app.TfllmError(f"unexpected arguments {argv[1:]}; flags look like --name=value")
    import tfllm  # pylint: disable=import-outside-toplevel

    config = _CONFIG.value
    workdir = _WORKDIR.value or os.path.join("runs", config.experiment)
    report = tfllm.train(config, workdir)
    minutes, seconds = divmod(int(report["wall_seconds"]), 60)
    print(f"\nvalidation accuracy {report['accuracy']:.3f} on {report['examples']} examples "
          f"(majority-class baseline {report['majority_baseline']:.3f}, "
          f"macro-F1 {report['macro_f1']:.3f}) in {minutes}m{seconds:02d}s")
    print(f"work directory: {workdir}")
    print("next:")
    print(f"  tfllm evaluate --workdir={workdir}")
    print(f"  tfllm predict --workdir={workdir} --text='What is AI?'")
    print(f"  tensorboard --logdir={os.path.join(workdir, 'logs')}")


def run(argv):
    app.run(main, argv)
