"""Checks the commands run on their flags before any work: files read, places written, the
finished run named, and the flags the run's task uses. Each failure is a TfllmError (one
line, exit 2) naming the flag.

All are light (no TensorFlow; `task_flags` imports the run's task only once its flags
passed): a bad path costs a fraction of a second, not an import and a model load, and an
unwritable --output is refused before a minute of evaluation rather than after it.
"""

import contextlib
import os
import re
import tempfile

from absl import flags

from tfllm import config as config_lib
from tfllm.errors import TfllmError
from tfllm.workdir import Paths

FINISHED = "expected the work directory of a finished `tfllm train` run"


def given(*names):
    """Which of the flags `names` the command line (or a --flagfile) set (a boolean one:
    set true)."""
    return [name for name in names if flags.FLAGS[name].present
            and flags.FLAGS[name].value is not False]


def input_file(flag, path, sources=False):
    """A file the command reads must exist and be a file. With `sources`, a data source
    that is not a file ('default', tfds:NAME) passes as it is."""
    if sources and not config_lib.is_file_source(path):
        return path
    if os.path.isdir(path):
        raise TfllmError(f"{flag}: {path} is a directory; expected a file")
    if not os.path.exists(path):
        raise TfllmError(f"{flag}: file not found: {path}")
    return path


def _check_writable(flag, path, directory):
    """`directory` (existing) takes new files: asked of the system, then tried (a root
    process passes access(2) on a file system that still refuses, such as /sys)."""
    reason = None
    if not os.access(directory, os.W_OK | os.X_OK):
        reason = "permission denied"
    else:
        try:
            with tempfile.TemporaryFile(dir=directory):
                pass
        except OSError as error:
            reason = (error.strerror or str(error)).lower()
    if reason:
        raise TfllmError(f"{flag}: {path}: cannot write there ({reason}); choose a place "
                         "you can write")


def output_file(flag, path, suffixes=()):
    """A file the command will write: its directory exists and is writable, and the path
    is not a directory. `suffixes`, if any, are the endings it may have."""
    if not path.strip():
        raise TfllmError(f"{flag}: empty; expected a file path")
    if os.path.isdir(path) or path.endswith(os.sep):
        raise TfllmError(f"{flag}: {path} is a directory; expected a file path")
    if suffixes and not path.lower().endswith(suffixes):
        raise TfllmError(f"{flag}: {path} should end in {' or '.join(suffixes)}")
    parent = os.path.dirname(path) or "."
    if os.path.exists(parent) and not os.path.isdir(parent):
        raise TfllmError(f"{flag}: {parent} is a file, not a directory")
    if not os.path.isdir(parent):
        raise TfllmError(f"{flag}: directory {parent} does not exist; create it first")
    _check_writable(flag, path, parent)
    return path


def output_dir(flag, path):
    """A directory the command will write into (made, parents included, if missing): not a
    file, nor under one, and writable."""
    if not path.strip():
        raise TfllmError(f"{flag}: empty; expected a directory")
    if os.path.exists(path) and not os.path.isdir(path):
        raise TfllmError(f"{flag}: {path} is a file; expected a directory")
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise TfllmError(f"{flag}: {existing} is a file; cannot make the directory {path} "
                         "under it")
    _check_writable(flag, path, existing)
    return path


def finished_run(workdir, flag="--workdir"):
    """The config (ConfigDict, or None for a run older than config.json) of the finished
    run in `workdir`, read without TensorFlow."""
    if not os.path.exists(workdir):
        raise TfllmError(f"{flag}: {workdir} does not exist; {FINISHED}")
    if not os.path.isdir(workdir):
        raise TfllmError(f"{flag}: {workdir} is a file; {FINISHED}")
    paths = Paths(workdir)
    if not os.path.exists(paths.model):
        raise TfllmError(f"{flag}: {workdir} has no model.keras; {FINISHED}")
    return config_lib.load(paths.config) if os.path.exists(paths.config) else None


def task_name(config):
    """The task of a finished run's config (`finished_run`)."""
    from tfllm.tasks import registry  # pylint: disable=import-outside-toplevel
    return config.task if config is not None else registry.DEFAULT


def task_flags(command, workdir, config, names):
    """The run's Task, once it is known to use every flag of `names` (those given) in
    `command`: the task's own checks (`Task.check_flags`), then its `command_flags`. Those
    come from the task's light checks module; only then is the task's module (TensorFlow
    with it) imported, not its model."""
    # pylint: disable=import-outside-toplevel
    from tfllm.tasks import registry
    name = task_name(config)
    command_flags, check_flags = registry.flag_rules(name)
    check_flags(command, names, config)
    for flag in names:
        if flag not in command_flags.get(command, ()):
            takers = [other for other in registry.names()
                      if flag in registry.flag_rules(other)[0].get(command, ())]
            hint = f" ({', '.join(takers)} runs take it)" if takers else ""
            raise TfllmError(f"--{flag}: not used by {name} runs{hint}")
    return registry.task_for_workdir(workdir)


# The data-reading fields `tfllm evaluate --data` and `tfllm predict --input` take as flags:
# each overrides the run's `data` field of that name for the file read. Which apply is the
# run's task's to say (`Task.command_flags`).
DATA_FIELDS = {
    "text_column": "Column (JSON key) of the file's texts: classifiers, language models' "
                   "documents; default: the run's data.text_column.",
    "text_pair_column": "Column of the file's second segments, for runs trained on text "
                        "pairs; default: the run's data.text_pair_column.",
    "label_column": "Column of the file's labels (classifiers); default: the run's "
                    "data.label_column.",
    "tokens_key": "JSON Lines key of each sentence's words (taggers); default: the run's "
                  "data.tokens_key.",
    "tags_key": "JSON Lines key of each sentence's tags (taggers); default: the run's "
                "data.tags_key.",
    "prompt_column": "Column of the file's prompts (language models on prompt/response "
                     "pairs); default: the run's data.prompt_column.",
    "response_column": "Column of the file's responses (language models); default: the "
                       "run's data.response_column.",
    "source_column": "Column of the file's sources (seq2seq); default: the run's "
                     "data.source_column.",
    "target_column": "Column of the file's targets (seq2seq); default: the run's "
                     "data.target_column.",
}


def data_fields(flag_values, file_flag):
    """{field: value} of the data-reading flags given (`flag_values`: name -> FlagHolder);
    each must be non-empty, and only with the file they describe (`file_flag`, given)."""
    fields = {name: holder.value for name, holder in flag_values.items()
              if holder.value is not None}
    for name, value in fields.items():
        if not value.strip():
            raise TfllmError(f"--{name}: empty; expected a column name")
        if not flags.FLAGS[file_flag].value:
            raise TfllmError(f"--{name}: names a column of the --{file_flag} file; pass "
                             f"--{file_flag}=FILE too")
    return fields


@contextlib.contextmanager
def reading_flags(reading_a_file):
    """Errors of reading a --data / --input file (`reading_a_file`) name the flags of this
    command: the readers say `--config.data.text_column` (training's flag); here it is
    `--text_column`."""
    try:
        yield
    except TfllmError as error:
        if not reading_a_file:
            raise
        message = re.sub(r"--config\.data\.(\w+)",
                         lambda m: f"--{m.group(1)}" if m.group(1) in DATA_FIELDS else m.group(0),
                         str(error))
        if message == str(error):
            raise
        raise TfllmError(message) from error
