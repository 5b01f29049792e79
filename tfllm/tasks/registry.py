"""The list of tasks: the config's `task` value -> its Task. The only place that knows it.

`tfllm.train`, `load`, `export` and `pipeline`, the command line and config validation
all find a run's task here; none of them branches on a task's name. A task added here
(one line) is trained, evaluated, served and exported by the same code as the others.
"""

from tfllm.errors import ConfigError, TfllmError
from tfllm.tasks.classification.task import TASK as CLASSIFICATION
from tfllm.tasks.language_model.task import TASK as LANGUAGE_MODEL
from tfllm.tasks.seq2seq.task import TASK as SEQ2SEQ
from tfllm.tasks.span_qa.task import TASK as SPAN_QA
from tfllm.tasks.tagging.task import TASK as TAGGING

TASKS = {task.name: task for task in (CLASSIFICATION, LANGUAGE_MODEL, TAGGING, SPAN_QA,
                                      SEQ2SEQ)}
# A work directory without config.json was a classifier's (the first task tfllm had).
DEFAULT = CLASSIFICATION.name


def register(task):
    """Adds `task` (a `tfllm.tasks.base.Task`) under its name; returns it. For tasks defined
    outside the package; a name already taken is an error."""
    if task.name in TASKS and TASKS[task.name] is not task:
        raise TfllmError(f"task {task.name!r} is already registered")
    TASKS[task.name] = task
    return task


def task_for(config):
    """The Task of `config.task`; ConfigError naming the flag for an unknown one."""
    if config.task not in TASKS:
        raise ConfigError("task", f"got {config.task!r}, expected one of {tuple(TASKS)}")
    return TASKS[config.task]


def task_for_workdir(workdir):
    """The Task of the run in `workdir` (by its config.json)."""
    # pylint: disable=import-outside-toplevel
    import os

    from tfllm import config as config_lib
    from tfllm.workdir import Paths
    path = Paths(workdir).config
    name = config_lib.load(path).task if os.path.exists(path) else DEFAULT
    if name not in TASKS:
        raise TfllmError(f"{path}: task {name!r} is not one tfllm knows "
                         f"(expected one of {tuple(TASKS)})")
    return TASKS[name]


def task_for_pipeline(pipeline_name):
    """(Task, pipeline class) serving the Hugging Face pipeline `pipeline_name`."""
    for task in TASKS.values():
        if pipeline_name in task.pipelines:
            return task, task.pipelines[pipeline_name]
    names = tuple(name for task in TASKS.values() for name in task.pipelines)
    raise TfllmError(f"unknown pipeline task {pipeline_name!r}; expected one of {names}")
