"""The Task contract: what one task gives the run skeleton, the API, the CLI and the export.

A task is one object (registered by name in `tfllm.tasks.registry`) whose methods the
shared code calls in a fixed order; nothing outside the registry branches on a task's
name. A training run is always (`tfllm.training.run.train_and_evaluate`):

    check_config -> prepare (read and check the data, choose the tokenizer; write the
    work directory's tokenizer, config.json and data report only once all checks pass)
    -> datasets -> build_model -> LoRA (`head` trains in full) -> compile_model -> fit
    -> save model.keras -> evaluate (the report saved as eval.json)

and a finished run is served by `load` (the in-process predictor) and `export_parts`
(the SavedModel module and its warmup requests). To add a task, subclass `Task` in
`tfllm/tasks/<name>/task.py` and add one line to the registry
(docs/architecture.md walks through it).
"""

import contextlib
import dataclasses
import sys
from typing import Any, Callable

from tfllm.errors import TfllmError


@dataclasses.dataclass
class Prepared:
    """What `Task.prepare` hands on to the rest of the run.

    Args:
        config: the resolved config (model sizes filled in), as saved in config.json.
        data: the task's data, in whatever form its `datasets` and `evaluate` read.
        tokenizer: the run's tokenizer (or what the task builds it from).
        checkpoint: the pretrained checkpoint `model.init_from` names, or None.
        paths: the work directory's `Paths`, where `evaluate` needs it.
    """

    config: Any
    data: Any
    tokenizer: Any = None
    checkpoint: Any = None
    paths: Any = None


@dataclasses.dataclass
class Datasets:
    """The training stream and validation data of one run.

    Args:
        stream: start_batch -> the training dataset from that batch on (a resumed run
            starts mid-epoch at the batch its backup reached).
        validation: the validation dataset `fit` reports on after each epoch.
        steps_per_epoch: optimizer steps per epoch.
        tokens_per_example: mean real tokens per example (the tokens/s the log shows).
        extra: what the task's `evaluate` needs besides (packed blocks, window features).
    """

    stream: Callable[[int], Any]
    validation: Any
    steps_per_epoch: int
    tokens_per_example: float
    extra: Any = None


class Task:
    """What a task provides. Subclasses set the attributes and override the methods.

    Attributes:
        name: the config's `task` value.
        head: names of the task's new layers, trained in full under LoRA.
        monitor: (validation metric, "max" or "min") that picks the best checkpoint.
        pipelines: Hugging Face pipeline name -> class wrapping the predictor.
        generates: its runs write text (`tfllm evaluate --generate` scores it).
        evaluate_flags, try_command: what `tfllm train` suggests next.
        predictor: the class `load` builds from a work directory.
        export_parts: predictor -> (tf.Module with a `signatures()` method, warmup
            requests): what `tfllm export` saves.
    """

    name = ""
    head = ()
    monitor = ("val_accuracy", "max")
    pipelines = {}
    # The command line: whether `tfllm evaluate --generate` applies, and what `tfllm train`
    # suggests: flags for `tfllm evaluate`, a command that tries the model ({workdir}).
    generates = False
    evaluate_flags = ""
    try_command = ""
    # A finished run: the class of its in-process predictor (built from the work directory)
    # and the function (predictor) -> (serving module, warmup requests) of its export.
    predictor = None
    export_parts = None
    # The optional flags of `tfllm predict`, `evaluate` and `generate` this task's runs
    # read, by command; the command line refuses any other before loading the model, naming
    # the task and the tasks that take it. Data-reading flags (--text_column, ...) are
    # named after the `data` field they override for the file read (`with_data_fields`).
    command_flags = {}

    # -- training ------------------------------------------------------------------------
    def check_config(self, config):
        """Raises ConfigError naming the first field no run of this task could use."""
        raise NotImplementedError

    def prepare(self, config, paths):
        """Reads and checks the data, chooses the tokenizer, resolves the config; then
        writes tokenizer files, config.json and data_report.json. Returns `Prepared`."""
        raise NotImplementedError

    def datasets(self, prepared):
        """The training stream and validation data (`Datasets`)."""
        raise NotImplementedError

    def build_model(self, prepared):
        """(uncompiled model, WeightReport of a pretrained import or None)."""
        raise NotImplementedError

    def compile_model(self, model, config, steps_per_epoch):
        """Compiles `model` with the task's loss, metrics and the run's optimizer."""
        raise NotImplementedError

    def evaluate(self, model, prepared, datasets):
        """The validation report of the trained model (saved as eval.json)."""
        raise NotImplementedError

    def train(self, config, workdir):
        """Runs the whole experiment; returns the validation report (see module doc)."""
        from tfllm.training import run  # pylint: disable=import-outside-toplevel
        return run.train_and_evaluate(self, config, workdir)

    # -- a finished run ------------------------------------------------------------------
    def load(self, workdir):
        """The in-process predictor of the finished run in `workdir`."""
        return self.predictor(workdir)  # pylint: disable=not-callable

    def base_model(self, workdir):
        """The model the run in `workdir` started from, without LoRA (for --adapters)."""
        raise TfllmError(f"--adapters: not supported for {self.name} runs (their model.keras "
                         "is already merged and exports without it)")

    # -- the command line ----------------------------------------------------------------
    def summary(self, report):
        """One line on the finished run's validation report (printed by `tfllm train`)."""
        raise NotImplementedError

    def next_commands(self, workdir, export_dir):
        """The commands `tfllm train` suggests next."""
        evaluate = f"tfllm evaluate --workdir={workdir}{self.evaluate_flags}"
        return [evaluate] + ([self.try_command.format(workdir=workdir)] if self.try_command
                             else []) + [
            f"tfllm export --workdir={workdir} --export_dir={export_dir}"]

    def check_flags(self, command, given, config):
        """Raises TfllmError on a flag of `given` (names, in `command`) this run cannot use
        though its task can (say, a second segment for a run trained on single texts);
        `config` is the run's config.json. The command line calls it before the model loads,
        then refuses the flags missing from `command_flags`."""

    def with_data_fields(self, predictor, fields):
        """`predictor`, reading its next data file with the `data` fields `fields` ({name:
        value}, from flags such as --text_column) in place of the run's."""
        data = predictor.config.data
        with data.unlocked() if hasattr(data, "unlocked") else contextlib.nullcontext():
            for name, value in fields.items():
                data[name] = value
        return predictor

    def evaluate_run(self, predictor, data, generate=False, max_examples=0):
        """The report of `tfllm evaluate` (data '' = the run's validation split)."""
        if self.generates:
            return predictor.evaluate(data, generate=generate, max_examples=max_examples)
        if generate:
            raise TfllmError(f"--generate: a {self.name} run generates no text; drop the flag")
        return predictor.evaluate(data)

    def print_report(self, report):
        """Prints the report `evaluate_run` returned, as a table."""
        raise NotImplementedError

    def predict_records(self, predictor, request):
        """One JSON-ready dict per input of `tfllm predict` (`request`: a PredictRequest)."""
        raise NotImplementedError

    def generate_records(self, predictor, prompts, options):
        """One JSON-ready dict per prompt of `tfllm generate` (`options`: its flags)."""
        raise TfllmError(f"{predictor.workdir}: a {self.name} run cannot serve "
                         "'text-generation'; use tfllm predict")


@dataclasses.dataclass
class PredictRequest:
    """The inputs of `tfllm predict`, as given: texts (with pairs) or a file, or QA's
    questions and contexts; `top_k` probabilities kept per text."""

    texts: list = dataclasses.field(default_factory=list)
    text_pairs: list = dataclasses.field(default_factory=list)
    input: str = ""
    questions: list = dataclasses.field(default_factory=list)
    contexts: list = dataclasses.field(default_factory=list)
    top_k: int = 3

    def text_inputs(self, predictor):
        """(texts, text pairs or None): of --input, else of --text/--text_pair."""
        if self.input:
            return predictor.read_texts(self.input)
        if not self.texts:
            raise TfllmError("nothing to predict: pass --text=... (repeatable) or --input=FILE")
        if self.text_pairs and len(self.text_pairs) != len(self.texts):
            raise TfllmError(f"--text_pair given {len(self.text_pairs)} times, --text "
                             f"{len(self.texts)} times; expected one pair per text")
        return self.texts, self.text_pairs or None


def progress(message):
    """Prints a progress line of a command (what it is doing now) to stderr, at once."""
    print(message, file=sys.stderr, flush=True)


def lengths(rows):
    """The length of each row of a tokenizer's output: a ragged tensor, or the lists
    keras-hub's tokenizers give eagerly."""
    if hasattr(rows, "row_lengths"):
        return rows.row_lengths().numpy()
    return [len(row) for row in rows]


def cut_note(cut, total, length, what="texts", field="data.max_seq_length"):
    """The line saying how many inputs were cut to fit, or None when none was: '3 of 1,043
    texts were cut to 128 tokens (data.max_seq_length)'."""
    if not cut:
        return None
    verb = "was" if cut == 1 else "were"
    return f"{cut:,} of {total:,} {what} {verb} cut to {length:,} tokens ({field})"


def minutes(report):
    """'3m05s' of the report's wall time."""
    minute, second = divmod(int(report["wall_seconds"]), 60)
    return f"{minute}m{second:02d}s"
