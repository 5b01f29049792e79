"""`tfllm evaluate`: a finished run's report, written as JSON and printed as a table.

Classifiers: accuracy, macro- and micro-F1, per-label precision/recall/F1,
expected calibration error and the confusion matrix. Taggers: entity
precision/recall/F1, micro and per entity type, and tag accuracy. Language models:
perplexity and tokens scored; with --generate, BLEU, ROUGE-1/2/L and exact
match of greedy completions against the responses of prompt/response data.
--plot adds PNG charts.

The run's validation split is reported into WORKDIR/eval.json; a --data file into
WORKDIR/eval_<file name>.json (the run's own eval.json is left as training wrote it).
A --data file whose columns have other names than the run's training data is read with
--text_column, --label_column and the like (which apply is the run's task's to say).
"""

import json
import os
import re

from absl import flags

from tfllm.cli import app
from tfllm.cli import checks

_WORKDIR = flags.DEFINE_string("workdir", None, "Work directory of a finished run.", required=True)
_DATA = flags.DEFINE_string(
    "data", "", "Data to evaluate on (same forms as --config.data.train; labelled for "
    "classifiers); default: the run's validation split.")
_OUTPUT = flags.DEFINE_string(
    "output", "", "Report file; default WORKDIR/eval.json for the validation split, "
    "WORKDIR/eval_<file name>.json for --data.")
_PLOT = flags.DEFINE_bool(
    "plot", False, "Also write PNG charts: training curves, and for classifiers the confusion "
    "matrix and reliability diagram.")
_PLOT_DIR = flags.DEFINE_string("plot_dir", "", "Where --plot writes; default WORKDIR/plots.")
_GENERATE = flags.DEFINE_bool(
    "generate", False, "Language models on prompt/response data: complete each prompt greedily "
    "and score the completions against the responses (BLEU, ROUGE, exact match).")
_MAX_EXAMPLES = flags.DEFINE_integer(
    "max_examples", 0, "--generate scores the first N pairs; 0 = all.", lower_bound=0)
_FIELDS = {name: flags.DEFINE_string(name, None, f"With --data: {text}")
           for name, text in checks.DATA_FIELDS.items()}


def report_path(workdir, data):
    """Where the report goes without --output: eval.json for the validation split,
    eval_<name>.json for a data source (its file name without the extension)."""
    if not data:
        return os.path.join(workdir, "eval.json")
    from tfllm import config as config_lib  # pylint: disable=import-outside-toplevel
    name = data
    if config_lib.is_file_source(data):
        name = os.path.splitext(os.path.basename(os.path.normpath(data)))[0]
    name = re.sub(r"[^\w.-]+", "_", name).strip("_.") or "data"
    return os.path.join(workdir, f"eval_{name}.json")


def check_flags():
    """(run config, data fields, report path, chart directory or None), every flag checked
    that can be without the run's task; nothing read but config.json."""
    config = checks.finished_run(_WORKDIR.value)
    if _DATA.value:
        checks.input_file("--data", _DATA.value, sources=True)
    fields = checks.data_fields(_FIELDS, "data")
    if _PLOT_DIR.value and not _PLOT.value:
        raise app.TfllmError("--plot_dir: only with --plot (it says where the charts go)")
    if flags.FLAGS["max_examples"].present and not _GENERATE.value:
        raise app.TfllmError("--max_examples: only with --generate (it limits the pairs "
                             "whose completions are scored)")
    output = _OUTPUT.value or report_path(_WORKDIR.value, _DATA.value)
    checks.output_file("--output", output)
    plot_dir = None
    if _PLOT.value:
        plot_dir = checks.output_dir("--plot_dir",
                                     _PLOT_DIR.value or os.path.join(_WORKDIR.value, "plots"))
    return config, fields, output, plot_dir


def main(argv):
    config, fields, output, plot_dir = check_flags()
    # pylint: disable=import-outside-toplevel
    from tfllm.evaluation import plots
    from tfllm.tasks import base

    used = [*fields] + (["generate"] if _GENERATE.value else []) + checks.given("max_examples")
    task = checks.task_flags("evaluate", _WORKDIR.value, config, used)
    base.progress(f"loading the run in {_WORKDIR.value} ...")
    predictor = task.with_data_fields(task.load(_WORKDIR.value), fields)
    base.progress(f"evaluating on {_DATA.value or 'the validation split'} ...")
    with checks.reading_flags(bool(_DATA.value)):
        report = task.evaluate_run(predictor, _DATA.value, generate=_GENERATE.value,
                                   max_examples=_MAX_EXAMPLES.value)
    task.print_report(report)
    with open(output, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    print(f"report: {output}")
    if plot_dir is not None:
        base.progress(f"writing charts into {plot_dir} ...")
        for path in plots.write_all(report, os.path.join(_WORKDIR.value, "metrics.jsonl"),
                                    plot_dir):
            print(f"chart: {path}")


def run(argv):
    app.run(main, argv)
