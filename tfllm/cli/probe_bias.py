"""`tfllm probe-bias`: swap paired terms (he/she, names, groups) in evaluation texts and report
how often a classifier's prediction flips and how far its probability moves, per pair."""

import json
import os

from absl import flags

from tfllm.cli import app

_WORKDIR = flags.DEFINE_string("workdir", None, "Work directory of a finished classifier.",
                               required=True)
_PAIRS = flags.DEFINE_string(
    "pairs", "", "Term pairs, one per line: term<TAB>term[<TAB>group]; default: the shipped "
    "list (gender words, first names, religion, age, nationality).")
_DATA = flags.DEFINE_string(
    "data", "", "Texts to probe (same forms as --config.data.train; labels not needed); "
    "default: the run's validation split.")
_FLIP_THRESHOLD = flags.DEFINE_float(
    "flip_threshold", 0.05, "Flag a pair whose share of flipped predictions exceeds this.")
_SHIFT_THRESHOLD = flags.DEFINE_float(
    "shift_threshold", 0.05, "Flag a pair whose mean probability shift exceeds this.")
_OUTPUT = flags.DEFINE_string("output", "", "Report file; default WORKDIR/bias.json.")


def _texts(classifier):
    if not _DATA.value:
        from tfllm.data import examples as examples_lib  # pylint: disable=import-outside-toplevel
        return [r.text for r in examples_lib.prepare(classifier.config.data).validation]
    return classifier.read_texts(_DATA.value)[0]


def main(argv):
    import tfllm  # pylint: disable=import-outside-toplevel
    from tfllm.tasks.classification import bias  # pylint: disable=import-outside-toplevel

    pairs = bias.read_pairs(_PAIRS.value)  # a bad pairs file fails before the model loads
    classifier = tfllm.load(_WORKDIR.value)
    if not hasattr(classifier, "probabilities") or classifier.config.data.text_pair_column:
        raise app.TfllmError(f"--workdir: {_WORKDIR.value} is not a single-text classifier run")
    report = bias.probe(classifier.probabilities, _texts(classifier), pairs,
                        _FLIP_THRESHOLD.value, _SHIFT_THRESHOLD.value)
    overall = report["overall"]
    print(f"{overall['swaps']} rewritten texts from {overall['texts']}: {overall['flips']} "
          f"predictions flipped ({overall['flip_rate']:.1%}), mean probability shift "
          f"{overall['mean_shift']:.4f}")
    probed = sorted((row for row in report["pairs"] if row["texts"]),
                    key=lambda row: (-row["flip_rate"], -row["mean_shift"]))
    width = max([len(row["pair"]) for row in probed] + [4])
    print(f"{'pair':<{width}}  texts  flips  flip rate  mean shift  max shift")
    for row in probed:
        mark = "  FLAGGED" if row["flagged"] else ""
        print(f"{row['pair']:<{width}}  {row['texts']:5d}  {row['flips']:5d}  "
              f"{row['flip_rate']:9.1%}  {row['mean_shift']:10.4f}  {row['max_shift']:9.4f}{mark}")
    unused = [row["pair"] for row in report["pairs"] if not row["texts"]]
    if unused:
        print(f"no text contains: {', '.join(unused)}")
    output = _OUTPUT.value or os.path.join(_WORKDIR.value, "bias.json")
    with open(output, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    print(f"flagged: {', '.join(report['flagged']) or 'none'}")
    print(f"report: {output}")


def run(argv):
    app.run(main, argv)
