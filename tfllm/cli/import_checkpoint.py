"""`tfllm import`: a pretrained decoder written as a run directory, ready to generate and export.

    tfllm import --config.model.init_from=SmolLM2-135M-Instruct.Q4_1.gguf --workdir=runs/smollm2
    tfllm generate --workdir=runs/smollm2 --prompt="The capital of France is"
"""

import os

from absl import flags

from tfllm.cli import app
from tfllm.cli import checks
from tfllm.configs import CONFIG_DIR

_WORKDIR = flags.DEFINE_string("workdir", "", "Run directory; default runs/<checkpoint name>.")
LM_CONFIG = os.path.join(CONFIG_DIR, "gpt_lm.py")


def check_flags(config):
    """The work directory, once the config and the place are known to do (no TensorFlow)."""
    from tfllm import config as config_lib  # pylint: disable=import-outside-toplevel

    if config.task != "language_modeling":
        raise app.TfllmError("--config: tfllm import writes language models; use a "
                             "language_modeling config (configs/gpt_lm.py)")
    if not config.model.init_from:
        raise app.TfllmError("--config.model.init_from: empty; name the checkpoint to import")
    config_lib.validate(config)
    name = os.path.splitext(os.path.basename(os.path.normpath(config.model.init_from)))[0]
    workdir = _WORKDIR.value or os.path.join("runs", name or "imported")
    return checks.output_dir("--workdir", workdir)


def main(argv, config_flag):
    workdir = check_flags(config_flag.value)
    # pylint: disable=import-outside-toplevel
    import tfllm
    from tfllm.tasks import base

    base.progress(f"importing into {workdir} ...")
    report = tfllm.import_checkpoint(config_flag.value, workdir)
    print(f"work directory: {workdir} ({report['loaded']} weights from {report['source']})")
    print("next:")
    print(f"  tfllm generate --workdir={workdir} --prompt='What is AI?'")
    print(f"  tfllm export --workdir={workdir} "
          f"--export_dir={os.path.join('exports', os.path.basename(workdir))}")


def run(argv):
    config_flag = app.define_config_flag(argv, default=LM_CONFIG)
    app.run(lambda args: main(args, config_flag), argv)
