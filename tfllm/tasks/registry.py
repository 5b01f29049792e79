"""The list of tasks: the config's `task` value -> its Task. The only place that knows it.

`tfllm.train`, `load`, `export` and `pipeline`, the command line and config validation
all find a run's task here; none of them branches on a task's name. A task added here
(one line) is trained, evaluated, served and exported by the same code as the others.

A built-in task's module (and with it TensorFlow) is imported the first time a run needs
it; its config checks (`tfllm/tasks/<folder>/checks.py`) import neither, so `check_config`
refuses a bad `--config.*` flag in a fraction of a second.
"""

import importlib

from tfllm.errors import ConfigError, TfllmError

# Task name -> its folder under tfllm/tasks/.
BUILTIN = {
    "text_classification": "classification",
    "language_modeling": "language_model",
    "tagging": "tagging",
    "span_qa": "span_qa",
    "seq2seq": "seq2seq",
}
# A work directory without config.json was a classifier's (the first task tfllm had).
DEFAULT = "text_classification"
# The tasks imported so far, and those registered from outside the package.
TASKS = {}


def names():
    """Every task name a config may give, built-in ones first."""
    return tuple(dict.fromkeys([*BUILTIN, *TASKS]))


def register(task):
    """Adds `task` (a `tfllm.tasks.base.Task`) under its name; returns it. For tasks defined
    outside the package; a name already taken is an error."""
    if task.name in BUILTIN or (task.name in TASKS and TASKS[task.name] is not task):
        raise TfllmError(f"task {task.name!r} is already registered")
    TASKS[task.name] = task
    return task


def _task(name):
    if name not in TASKS:
        TASKS[name] = importlib.import_module(f"tfllm.tasks.{BUILTIN[name]}.task").TASK
    return TASKS[name]


def _check_known(config):
    if config.task not in BUILTIN and config.task not in TASKS:
        raise ConfigError("task", f"got {config.task!r}, expected one of {names()}")


def task_for(config):
    """The Task of `config.task`; ConfigError naming the flag for an unknown one."""
    _check_known(config)
    return _task(config.task)


def check_config(config):
    """The checks of `config.task` (`Task.check_config`), without importing a built-in
    task's model code."""
    _check_known(config)
    if config.task in TASKS:
        TASKS[config.task].check_config(config)
    else:
        importlib.import_module(f"tfllm.tasks.{BUILTIN[config.task]}.checks").check_config(config)


def flag_rules(name):
    """(command_flags, check_flags) of the task `name` (`Task.command_flags`,
    `Task.check_flags`), without importing a built-in task's model code: the command line
    refuses a flag the run's task does not read before it imports TensorFlow."""
    if name in TASKS:
        return TASKS[name].command_flags, TASKS[name].check_flags
    if name not in BUILTIN:
        raise TfllmError(f"task {name!r} is not one tfllm knows (expected one of {names()})")
    checks = importlib.import_module(f"tfllm.tasks.{BUILTIN[name]}.checks")
    return (getattr(checks, "COMMAND_FLAGS", {}),
            getattr(checks, "check_flags", lambda command, given, config: None))


def task_for_workdir(workdir):
    """The Task of the run in `workdir` (by its config.json)."""
    # pylint: disable=import-outside-toplevel
    import os

    from tfllm import config as config_lib
    from tfllm.workdir import Paths
    path = Paths(workdir).config
    name = config_lib.load(path).task if os.path.exists(path) else DEFAULT
    if name not in BUILTIN and name not in TASKS:
        raise TfllmError(f"{path}: task {name!r} is not one tfllm knows "
                         f"(expected one of {names()})")
    return _task(name)


def load_all():
    """Every task, built-in ones imported."""
    return [_task(name) for name in names()]


def task_for_pipeline(pipeline_name):
    """(Task, pipeline class) serving the Hugging Face pipeline `pipeline_name`."""
    tasks = load_all()
    for task in tasks:
        if pipeline_name in task.pipelines:
            return task, task.pipelines[pipeline_name]
    known = tuple(name for task in tasks for name in task.pipelines)
    raise TfllmError(f"unknown pipeline task {pipeline_name!r}; expected one of {known}")
