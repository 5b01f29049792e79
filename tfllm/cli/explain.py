"""`tfllm explain`: which tokens drove a classifier's prediction, by integrated gradients.

Prints one line per word (score and a bar) and the completeness check (do the
attributions add up to the logit change from the baseline?), and writes the
same as a heat map: an HTML page, or a PNG when --output ends in .png.
"""

import os

from absl import flags

from tfllm.cli import app

_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Work directory of a finished classification run.", required=True)
_TEXT = flags.DEFINE_string("text", None, "The text to explain.", required=True)
_TEXT_PAIR = flags.DEFINE_string(
    "text_pair", None, "Second segment, for runs trained on text pairs.")
_TARGET = flags.DEFINE_string(
    "target", "", "Label whose logit to explain; default: the predicted label.")
_STEPS = flags.DEFINE_integer(
    "steps", 64, "Intervals along the integration path; more steps, smaller completeness gap.",
    lower_bound=1)
_OUTPUT = flags.DEFINE_string(
    "output", "", "Heat map file, .html or .png; default WORKDIR/explain.html.")


def _check_flags(classifier):
    if not _TEXT.value.strip():
        raise app.TfllmError("--text is empty; expected the text to explain")
    if _TEXT_PAIR.value is not None and not classifier.config.data.text_pair_column:
        raise app.TfllmError("--text_pair: this run was trained on single texts "
                             "(data.text_pair_column is empty)")
    if _TARGET.value and _TARGET.value not in classifier.labels:
        raise app.TfllmError(f"--target: unknown label {_TARGET.value!r}; the run's labels are "
                             f"{classifier.labels}")
    if _OUTPUT.value and not _OUTPUT.value.lower().endswith((".html", ".htm", ".png")):
        raise app.TfllmError(f"--output: {_OUTPUT.value} should end in .html or .png")
    directory = os.path.dirname(_OUTPUT.value)
    if directory and not os.path.isdir(directory):
        raise app.TfllmError(f"--output: directory {directory} does not exist")


def main(argv):
    from tfllm.tasks.classification import attributions  # pylint: disable=import-outside-toplevel

    try:
        classifier = attributions.load_classifier(_WORKDIR.value)
    except app.TfllmError as error:
        raise app.TfllmError(f"--workdir: {error}") from error
    _check_flags(classifier)
    try:  # the flags are checked; what is left is a text with nothing to attribute
        explanation = attributions.explain(classifier, _TEXT.value,
                                           target=_TARGET.value or None, steps=_STEPS.value,
                                           text_pair=_TEXT_PAIR.value)
    except app.TfllmError as error:
        raise app.TfllmError(f"--text: {error}") from error
    for line in attributions.to_terminal(explanation):
        print(line)
    print(attributions.summary(explanation))
    output = _OUTPUT.value or os.path.join(_WORKDIR.value, "explain.html")
    if output.lower().endswith(".png"):
        attributions.save_png(explanation, output)
    else:
        with open(output, "w", encoding="utf-8") as f:
            f.write(attributions.to_html(explanation))
    print(f"heat map: {output}")


def run(argv):
    app.run(main, argv)
