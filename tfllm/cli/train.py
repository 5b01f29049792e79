"""`tfllm train`: run an experiment config; with no flags, the default BERT topic classifier."""

import os

from absl import flags

from tfllm.cli import app

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
    import tfllm  # pylint: disable=import-outside-toplevel
    from tfllm.training import distribution  # pylint: disable=import-outside-toplevel

    try:
        config = config_flag.value
    except OSError as error:  # a --config inside a --flagfile that does not load
        raise app.TfllmError(f"--config: {str(error).splitlines()[-1].strip()}") from error
    if _NUM_WORKERS.value > 1:
        return launch_workers(argv, config)
    workdir = _WORKDIR.value or os.path.join("runs", config.experiment)
    export_dir = os.path.join("exports", os.path.basename(os.path.normpath(workdir)))
    report = tfllm.train(config, workdir)
    if not distribution.is_chief(config.runtime.distribution):
        print(f"worker done in {report['wall_seconds']:.0f}s; the chief wrote {workdir}")
        return None
    minutes, seconds = divmod(int(report["wall_seconds"]), 60)
    if config.task == "seq2seq" and "generation" in report:
        scores = report["generation"]
        print(f"\nvalidation perplexity {report['perplexity']:.2f} on {report['tokens']} target "
              f"tokens; greedy outputs of {scores['examples']} sources: bleu {scores['bleu']:.4f}"
              f"  rougeL {scores['rougeL']:.4f}  exact_match {scores['exact_match']:.4f} in "
              f"{minutes}m{seconds:02d}s")
        commands = [f"tfllm predict --workdir={workdir} --text='a source text'",
                    f"tfllm evaluate --workdir={workdir} --generate",
                    f"tfllm export --workdir={workdir} --export_dir={export_dir}"]
    elif "perplexity" in report:
        print(f"\nvalidation perplexity {report['perplexity']:.2f} on {report['tokens']} tokens "
              f"(unigram baseline {report['unigram_perplexity']:.2f}) in {minutes}m{seconds:02d}s")
        commands = [f"tfllm generate --workdir={workdir} --prompt='What is AI?'",
                    f"tfllm evaluate --workdir={workdir}",
                    f"tfllm export --workdir={workdir} --export_dir={export_dir}"]
    elif config.task == "tagging":
        print(f"\nvalidation entity F1 {report['f1']:.3f} (precision {report['precision']:.3f}, "
              f"recall {report['recall']:.3f}) on {report['support']} entities in "
              f"{report['sentences']} sentences in {minutes}m{seconds:02d}s")
        commands = [f"tfllm evaluate --workdir={workdir}",
                    f"tfllm predict --workdir={workdir} --text='Anna lives in Paris.'",
                    f"tfllm export --workdir={workdir} --export_dir={export_dir}"]
    elif config.task == "span_qa":
        print(f"\nvalidation exact match {report['exact']:.1f}, F1 {report['f1']:.1f} on "
              f"{report['questions']} questions in {minutes}m{seconds:02d}s")
        commands = [f"tfllm evaluate --workdir={workdir}",
                    f"tfllm predict --workdir={workdir} --question='Where was Zoë born?' "
                    "--context='Zoë Kim was born in São Paulo.'",
                    f"tfllm export --workdir={workdir} --export_dir={export_dir}"]
    else:
        print(f"\nvalidation accuracy {report['accuracy']:.3f} on {report['examples']} examples "
              f"(majority-class baseline {report['majority_baseline']:.3f}, "
              f"macro-F1 {report['macro_f1']:.3f}) in {minutes}m{seconds:02d}s")
        commands = [f"tfllm evaluate --workdir={workdir}",
                    f"tfllm predict --workdir={workdir} --text='What is AI?'",
                    f"tfllm export --workdir={workdir} --export_dir={export_dir}"]
    print(f"work directory: {workdir}")
    print("next:")
    for command in commands + [f"tensorboard --logdir={os.path.join(workdir, 'logs')}"]:
        print(f"  {command}")


def run(argv):
    config_flag = app.define_config_flag(argv)
    app.run(lambda args: main(argv, config_flag), argv)
