"""`tfllm train`: run an experiment config; with no flags, the default BERT topic classifier."""

import contextlib
import os

from absl import flags

from tfllm.cli import app
from tfllm.cli import checks

_WORKDIR = flags.DEFINE_string("workdir", "", "Run directory; default runs/<experiment>.")
_NUM_WORKERS = flags.DEFINE_integer(
    "num_workers", 1, "Train as this many worker processes on this machine "
    "(runtime.distribution=multi_worker, TF_CONFIG set for each).", lower_bound=1)


def launch_workers(argv, config):
    """Validates the config once, then runs `argv`'s run as --num_workers local workers."""
    from tfllm import config as config_lib  # pylint: disable=import-outside-toplevel
    from tfllm.cli import launch  # pylint: disable=import-outside-toplevel

    if config.runtime.distribution not in ("none", "multi_worker"):
        raise app.TfllmError(f"--num_workers={_NUM_WORKERS.value} trains with "
                             "runtime.distribution=multi_worker, not "
                             f"--config.runtime.distribution={config.runtime.distribution}")
    config_lib.validate(config)
    return launch.launch(launch.without_flag(argv[1:], "num_workers"), _NUM_WORKERS.value)


def main(argv, config_flag):
    """Trains; `argv` is the whole command line (the workers of --num_workers get it too)."""
    # pylint: disable=import-outside-toplevel
    import tfllm
    from tfllm import config as config_lib
    from tfllm import locking

    try:
        config = config_flag.value
    except OSError as error:  # a --config inside a --flagfile that does not load
        raise app.TfllmError(f"--config: {str(error).splitlines()[-1].strip()}") from error
    if _NUM_WORKERS.value > 1:
        return launch_workers(argv, config)
    workdir = _WORKDIR.value or os.path.join("runs", config.experiment)
    export_dir = os.path.join("exports", os.path.basename(os.path.normpath(workdir)))
    # A bad value, or a work directory another run holds, is refused here, before
    # TensorFlow is imported. A multi-worker run's chief takes the lock once it knows it
    # is the chief (`training.run.run_in_workdir`).
    config_lib.validate(config)
    checks.output_dir("--workdir", workdir)
    single = config.runtime.distribution != "multi_worker"
    with locking.locked(workdir, "this run") if single else contextlib.nullcontext():
        report = tfllm.train(config, workdir)
    from tfllm.training import distribution
    if not distribution.is_chief(config.runtime.distribution):
        print(f"worker done in {report['wall_seconds']:.0f}s; the chief wrote {workdir}")
        return None
    from tfllm.tasks import registry  # pylint: disable=import-outside-toplevel
    task = registry.task_for(config)
    print(f"\n{task.summary(report)}")
    print(f"work directory: {workdir}")
    print("next:")
    for command in task.next_commands(workdir, export_dir) + [
            f"tensorboard --logdir={os.path.join(workdir, 'logs')}"]:
        print(f"  {command}")


def run(argv):
    config_flag = app.define_config_flag(argv)
    app.run(lambda args: main(argv, config_flag), argv)
