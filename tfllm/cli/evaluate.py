"""`tfllm evaluate`: a finished run's report, into eval.json.

Classifiers: accuracy, macro-F1 and confusion matrix. Language models:
perplexity and the number of tokens scored.
"""

import json
import os

from absl import flags

from tfllm.cli import app

_WORKDIR = flags.DEFINE_string("workdir", None, "Work directory of a finished run.", required=True)
_DATA = flags.DEFINE_string(
    "data", "", "Data to evaluate on (same forms as --config.data.train; labelled for "
    "classifiers); "
    "default: the run's validation split.")
_OUTPUT = flags.DEFINE_string("output", "", "Report file; default WORKDIR/eval.json.")


def main(argv):
    import tfllm  # pylint: disable=import-outside-toplevel

    report = tfllm.load(_WORKDIR.value).evaluate(_DATA.value)
    output = _OUTPUT.value or os.path.join(_WORKDIR.value, "eval.json")
    with open(output, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    if "perplexity" in report:
        print(f"{report['source']}: perplexity {report['perplexity']:.2f} (loss "
              f"{report['loss']:.4f} nats/token) on {report['tokens']} tokens")
        print(f"report: {output}")
        return
    print(f"{report['split']}: accuracy {report['accuracy']:.4f}  macro-F1 {report['macro_f1']:.4f}"
          f"  on {report['examples']} examples (majority baseline "
          f"{report['majority_baseline']:.4f})")
    width = max(len(label) for label in report["labels"])
    print(f"{'label':<{width}}  precision  recall     f1  support")
    for label, row in report["per_label"].items():
        print(f"{label:<{width}}  {row['precision']:9.3f}  {row['recall']:6.3f}  {row['f1']:5.3f}"
              f"  {row['support']:7d}")
    print(f"report (with confusion matrix): {output}")


def run(argv):
    app.run(main, argv)
