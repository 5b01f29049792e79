"""`tfllm probe-bias`: swap paired terms (he/she, names, groups) in evaluation texts and report
how often a classifier's prediction flips and how far its probability moves, per pair, with
intervals; a pair is flagged only on enough texts and an interval above the threshold."""

import json
import os

from absl import flags

from tfllm.cli import app
from tfllm.cli import checks

_WORKDIR = flags.DEFINE_string("workdir", None, "Work directory of a finished classifier.",
                               required=True)
_PAIRS = flags.DEFINE_string(
    "pairs", "", "Term pairs, one per line: term<TAB>term[<TAB>group] (or commas; # comments); "
    "default: the shipped list (gender words, first names, religion, age, nationality).")
_DATA = flags.DEFINE_string(
    "data", "", "Texts to probe (same forms as --config.data.train; labels not needed); "
    "default: the run's validation split.")
_FLIP_THRESHOLD = flags.DEFINE_float(
    "flip_threshold", 0.05, "Flag a pair whose flip rate's interval lies above this.",
    lower_bound=0, upper_bound=1)
_SHIFT_THRESHOLD = flags.DEFINE_float(
    "shift_threshold", 0.05, "Flag a pair whose mean probability shift's interval lies above "
    "this.", lower_bound=0, upper_bound=1)
_MIN_TEXTS = flags.DEFINE_integer(
    "min_texts", 20, "Flag only pairs with at least this many rewritten texts.", lower_bound=1)
_CONFIDENCE = flags.DEFINE_float(
    "confidence", 0.95, "Confidence level of the intervals (Wilson score for flip rates, "
    "bootstrap for mean shifts), strictly between 0 and 1.")
flags.register_validator("confidence", lambda value: 0 < value < 1,
                         message="expected a confidence level strictly between 0 and 1, "
                         "such as 0.95")
_OUTPUT = flags.DEFINE_string("output", "", "Report file; default WORKDIR/bias.json.")

CLASSIFIER = "text_classification"  # the task whose runs the probe reads (its own module's)


def _texts(classifier):
    if not _DATA.value:
        from tfllm.data import examples as examples_lib  # pylint: disable=import-outside-toplevel
        return [r.text for r in examples_lib.prepare(classifier.config.data).validation]
    return classifier.read_texts(_DATA.value)[0]


def check_flags():
    """The term pairs, every flag checked before TensorFlow (the run by its config.json)."""
    from tfllm.tasks.classification import bias  # pylint: disable=import-outside-toplevel

    config = checks.finished_run(_WORKDIR.value)
    if checks.task_name(config) != CLASSIFIER or (
            config is not None and config.data.get("text_pair_column")):
        raise app.TfllmError(f"--workdir: {_WORKDIR.value} is not a single-text classifier run")
    if _PAIRS.value:
        checks.input_file("--pairs", _PAIRS.value)
    try:
        pairs = bias.read_pairs(_PAIRS.value)
    except app.TfllmError as error:
        message = str(error)
        raise app.TfllmError(message if message.startswith("--pairs") else
                             f"--pairs: {message}") from error
    if _DATA.value:
        checks.input_file("--data", _DATA.value, sources=True)
    output = _OUTPUT.value or os.path.join(_WORKDIR.value, "bias.json")
    checks.output_file("--output", output)
    return pairs, output


def main(argv):
    pairs, output = check_flags()
    # pylint: disable=import-outside-toplevel
    import tfllm
    from tfllm.tasks import base
    from tfllm.tasks.classification import bias

    base.progress(f"loading the run in {_WORKDIR.value} ...")
    classifier = tfllm.load(_WORKDIR.value)
    base.progress(f"reading the texts of {_DATA.value or 'the validation split'} ...")
    texts = _texts(classifier)
    base.progress(f"probing {len(texts):,} texts with {len(pairs)} term pairs ...")
    report = bias.probe(classifier.probabilities, texts, pairs,
                        _FLIP_THRESHOLD.value, _SHIFT_THRESHOLD.value, _MIN_TEXTS.value,
                        _CONFIDENCE.value, labels=list(classifier.labels))
    with open(output, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    print("\n".join(bias.report_lines(report)))
    print(f"report: {output}")


def run(argv):
    app.run(main, argv)
