"""`tfllm explain`: which tokens drove a classifier's prediction, by integrated gradients.

Prints one line per word (score and a bar) and the completeness check (do the
attributions add up to the logit change from the baseline?), and writes the
same as a heat map: an HTML page, or a PNG when --output ends in .png. Several
--text flags explain each text in turn, each into its own heat map (NAME-1.html,
NAME-2.html, ...).
"""

import os

from absl import flags

from tfllm.cli import app
from tfllm.cli import checks

_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Work directory of a finished classification run.", required=True)
_TEXT = flags.DEFINE_multi_string("text", None, "A text to explain; repeat for several.",
                                  required=True)
_TEXT_PAIR = flags.DEFINE_multi_string(
    "text_pair", [], "Second segment, for runs trained on text pairs; one per --text.")
_TARGET = flags.DEFINE_string(
    "target", "", "Label whose logit to explain; default: the predicted label.")
_STEPS = flags.DEFINE_integer(
    "steps", 64, "Intervals along the integration path; more steps, smaller completeness gap.",
    lower_bound=1)
_OUTPUT = flags.DEFINE_string(
    "output", "", "Heat map file, .html or .png; default WORKDIR/explain.html. With several "
    "--text, NAME-1.EXT, NAME-2.EXT, ...")

CLASSIFIER = "text_classification"  # the task whose runs explain reads (its own module's)


def outputs(count):
    """The heat map file of each of `count` texts."""
    output = _OUTPUT.value or os.path.join(_WORKDIR.value, "explain.html")
    if count == 1:
        return [output]
    stem, extension = os.path.splitext(output)
    return [f"{stem}-{index}{extension}" for index in range(1, count + 1)]


def check_flags():
    """Every flag checked against the run's config.json and labels, before TensorFlow."""
    # pylint: disable=import-outside-toplevel
    from tfllm.data import labels as labels_lib
    from tfllm.workdir import Paths

    config = checks.finished_run(_WORKDIR.value)
    task = checks.task_name(config)
    if task != CLASSIFIER:
        raise app.TfllmError(f"--workdir: {_WORKDIR.value} is a {task} run; explain needs a "
                             "text classification run")
    for index, text in enumerate(_TEXT.value, 1):
        if not text.strip():
            which = f" {index} of {len(_TEXT.value)}" if len(_TEXT.value) > 1 else ""
            raise app.TfllmError(f"--text{which} is empty; expected the text to explain")
    pairs = bool(config is not None and config.data.get("text_pair_column"))
    if _TEXT_PAIR.value and not pairs:
        raise app.TfllmError("--text_pair: this run was trained on single texts "
                             "(its data.text_pair_column is empty)")
    if pairs and len(_TEXT_PAIR.value) != len(_TEXT.value):
        raise app.TfllmError(f"--text_pair given {len(_TEXT_PAIR.value)} times, --text "
                             f"{len(_TEXT.value)} times; this run was trained on text pairs: "
                             "one --text_pair per --text")
    if _TARGET.value:
        labels = labels_lib.load_labels(Paths(_WORKDIR.value).labels)
        if _TARGET.value not in labels:
            raise app.TfllmError(f"--target: unknown label {_TARGET.value!r}; the run's labels "
                                 f"are {labels}")
    files = outputs(len(_TEXT.value))
    for path in files:
        checks.output_file("--output", path, suffixes=(".html", ".htm", ".png"))
    return files


def main(argv):
    files = check_flags()
    # pylint: disable=import-outside-toplevel
    from tfllm.tasks import base
    from tfllm.tasks.classification import attributions

    base.progress(f"loading the run in {_WORKDIR.value} ...")
    try:
        classifier = attributions.load_classifier(_WORKDIR.value)
    except app.TfllmError as error:
        raise app.TfllmError(f"--workdir: {error}") from error
    pairs = _TEXT_PAIR.value or [None] * len(_TEXT.value)
    for index, (text, pair, output) in enumerate(zip(_TEXT.value, pairs, files, strict=True)):
        base.progress(f"explaining text {index + 1} of {len(files)} ({_STEPS.value} steps) ...")
        try:  # the flags are checked; what is left is a text with nothing to attribute
            explanation = attributions.explain(classifier, text, target=_TARGET.value or None,
                                               steps=_STEPS.value, text_pair=pair)
        except app.TfllmError as error:
            raise app.TfllmError(f"--text: {error}") from error
        if index:
            print()
        for line in attributions.to_terminal(explanation):
            print(line)
        print(attributions.summary(explanation))
        if output.lower().endswith(".png"):
            attributions.save_png(explanation, output)
        else:
            with open(output, "w", encoding="utf-8") as f:
                f.write(attributions.to_html(explanation))
        print(f"heat map: {output}")


def run(argv):
    app.run(main, argv)
