"""`tfllm evaluate`: a finished run's report, into eval.json, printed as a table.

Classifiers: accuracy, macro- and micro-F1, per-label precision/recall/F1,
expected calibration error and the confusion matrix. Taggers: entity
precision/recall/F1, micro and per entity type, and tag accuracy. Language models:
perplexity and tokens scored; with --generate, BLEU, ROUGE-1/2/L and exact
match of greedy completions against the responses of prompt/response data.
--plot adds PNG charts.
"""

import json
import os

from absl import flags

from tfllm.cli import app

_WORKDIR = flags.DEFINE_string("workdir", None, "Work directory of a finished run.", required=True)
_DATA = flags.DEFINE_string(
    "data", "", "Data to evaluate on (same forms as --config.data.train; labelled for "
    "classifiers); default: the run's validation split.")
_OUTPUT = flags.DEFINE_string("output", "", "Report file; default WORKDIR/eval.json.")
_PLOT = flags.DEFINE_bool(
    "plot", False, "Also write PNG charts: training curves, and for classifiers the confusion "
    "matrix and reliability diagram.")
_PLOT_DIR = flags.DEFINE_string("plot_dir", "", "Where --plot writes; default WORKDIR/plots.")
_GENERATE = flags.DEFINE_bool(
    "generate", False, "Language models on prompt/response data: complete each prompt greedily "
    "and score the completions against the responses (BLEU, ROUGE, exact match).")
_MAX_EXAMPLES = flags.DEFINE_integer(
    "max_examples", 0, "--generate scores the first N pairs; 0 = all.", lower_bound=0)


def main(argv):
    from tfllm.evaluation import plots  # pylint: disable=import-outside-toplevel
    from tfllm.tasks import registry  # pylint: disable=import-outside-toplevel
    task = registry.task_for_workdir(_WORKDIR.value)
    report = task.evaluate_run(task.load(_WORKDIR.value), _DATA.value,
                               generate=_GENERATE.value, max_examples=_MAX_EXAMPLES.value)
    task.print_report(report)
    output = _OUTPUT.value or os.path.join(_WORKDIR.value, "eval.json")
    with open(output, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    print(f"report: {output}")
    if _PLOT.value:
        directory = _PLOT_DIR.value or os.path.join(_WORKDIR.value, "plots")
        for path in plots.write_all(report, os.path.join(_WORKDIR.value, "metrics.jsonl"),
                                    directory):
            print(f"chart: {path}")


def run(argv):
    app.run(main, argv)
