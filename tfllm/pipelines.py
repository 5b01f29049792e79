"""`tfllm.pipeline(task, model=workdir)`: Hugging Face-style callables over finished runs.

Each task lists the pipelines it serves (`Task.pipelines`); the registry finds them.
"""

from tfllm.errors import TfllmError


def pipeline(task, model):
    """Returns the pipeline `task` names over the finished run in directory `model`."""
    from tfllm.tasks import registry  # pylint: disable=import-outside-toplevel

    serving_task, pipeline_class = registry.task_for_pipeline(task)
    run_task = registry.task_for_workdir(model)
    if run_task is not serving_task:
        raise TfllmError(f"{model}: a {run_task.name} run cannot serve {task!r}")
    return pipeline_class(run_task.load(model))
