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


def print_classification(report):
    print(f"{report['split']}: accuracy {report['accuracy']:.4f}  macro-F1 "
          f"{report['macro_f1']:.4f}  micro-F1 {report['micro_f1']:.4f}  ECE {report['ece']:.4f}"
          f"  on {report['examples']} examples (majority baseline "
          f"{report['majority_baseline']:.4f})")
    width = max(len(label) for label in report["labels"] + ["label"])
    print(f"{'label':<{width}}  precision  recall     f1  support")
    for label, row in report["per_label"].items():
        print(f"{label:<{width}}  {row['precision']:9.3f}  {row['recall']:6.3f}  {row['f1']:5.3f}"
              f"  {row['support']:7d}")


def print_language_model(report):
    print(f"{report['source']}: perplexity {report['perplexity']:.2f} (loss "
          f"{report['loss']:.4f} nats/token) on {report['tokens']} tokens")
    if "generation" in report:
        scores = report["generation"]
        print(f"greedy completions of {scores['examples']} prompts against their responses:")
        print("  ".join(f"{name} {scores[name]:.4f}"
                        for name in ("bleu", "rouge1", "rouge2", "rougeL", "exact_match")))


def print_tagging(report):
    print(f"{report['split']}: entity F1 {report['f1']:.4f}  precision {report['precision']:.4f}"
          f"  recall {report['recall']:.4f}  macro-F1 {report['macro_f1']:.4f}  tag accuracy "
          f"{report['accuracy']:.4f}  on {report['sentences']} sentences, {report['support']} "
          "entities")
    width = max(len(name) for name in list(report["per_type"]) + ["entity"])
    print(f"{'entity':<{width}}  precision  recall     f1  support")
    for name, row in report["per_type"].items():
        print(f"{name:<{width}}  {row['precision']:9.3f}  {row['recall']:6.3f}  {row['f1']:5.3f}"
              f"  {row['support']:7d}")


def print_span_qa(report):
    scores = "  ".join(f"{name} {report[name]:.2f}" for name in (
        "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1") if name in report)
    print(f"{report['split']}: exact match {report['exact']:.2f}  F1 {report['f1']:.2f}  on "
          f"{report['questions']} questions ({report['unanswerable']} unanswerable)  {scores}")


def main(argv):
    import tfllm  # pylint: disable=import-outside-toplevel
    from tfllm.evaluation import plots  # pylint: disable=import-outside-toplevel
    from tfllm.tasks.language_model.predictor import LanguageModel  # pylint: disable=import-outside-toplevel

    model = tfllm.load(_WORKDIR.value)
    if isinstance(model, LanguageModel):
        report = model.evaluate(_DATA.value, generate=_GENERATE.value,
                                max_examples=_MAX_EXAMPLES.value)
        print_language_model(report)
    elif model.config.task == "seq2seq":  # BART: loss on the targets, --generate as above
        report = model.evaluate(_DATA.value, generate=_GENERATE.value,
                                max_examples=_MAX_EXAMPLES.value)
        print_language_model(report)
    elif model.config.task == "tagging":
        if _GENERATE.value:
            raise app.TfllmError("--generate: a tagger generates no text; drop the flag")
        report = model.evaluate(_DATA.value)
        print_tagging(report)
    elif model.config.task == "span_qa":
        if _GENERATE.value:
            raise app.TfllmError("--generate: a span QA model generates no text; drop the flag")
        report = model.evaluate(_DATA.value)
        print_span_qa(report)
    else:
        if _GENERATE.value:
            raise app.TfllmError("--generate: a classifier generates no text; drop the flag")
        report = model.evaluate(_DATA.value)
        print_classification(report)
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
