"""model.fit from wherever the run's last backup left it, to the end of its epochs."""

from tfllm.training import backup as backup_lib


def phases(step, epochs, steps_per_epoch):
    """The (initial_epoch, epochs, steps_per_epoch) of each fit call that trains from `step`.

    Keras starts an epoch only at its first batch. A run resumed mid-epoch
    first finishes that epoch in a fit of its remaining batches, then runs
    the later epochs in a second fit.
    """
    epoch, offset = divmod(step, steps_per_epoch)
    calls = []
    if offset:
        calls.append((epoch, epoch + 1, steps_per_epoch - offset))
        epoch += 1
    if epoch < epochs:
        calls.append((epoch, epochs, steps_per_epoch))
    return calls


def fit(model, datasets, train_config, callbacks, resume=None):
    """Trains `model` (compiled) for `train_config.epochs` from the backup `resume` names, or
    from step 0.

    The callbacks are `callbacks.standard_callbacks(..., resume=resume)`:
    their Backup restores the weights, optimizer and callback state when
    training starts.

    Args:
        datasets: a `tfllm.tasks.base.Datasets`: its stream (start_batch -> the training
            stream from that batch on), validation data and steps per epoch.
    """
    stream, steps_per_epoch, epochs = (datasets.stream, datasets.steps_per_epoch,
                                       train_config.epochs)
    step = resume.step if resume else 0
    if resume is not None:
        print(backup_lib.describe(resume, steps_per_epoch), flush=True)
        if resume.stop_training:
            return finish_without_training(model, resume, steps_per_epoch)
    calls = phases(step, epochs, steps_per_epoch)
    if not calls:  # killed after the last backup, before the model was saved
        return finish_without_training(model, resume, steps_per_epoch)
    for initial_epoch, last_epoch, steps in calls:
        model.fit(stream(step), validation_data=datasets.validation,
                  initial_epoch=initial_epoch, epochs=last_epoch, steps_per_epoch=steps,
                  callbacks=callbacks, verbose=train_config.verbose,
                  shuffle=False)  # the stream shuffles itself
        step += (last_epoch - initial_epoch) * steps
        if model.stop_training:
            break
    return None


def finish_without_training(model, resume, steps_per_epoch):
    """Ends a run whose last backup is its last step, as the end of `fit` would have."""
    backup_lib.restore_variables(model, resume, steps_per_epoch)
    model.optimizer.finalize_variable_values(model.trainable_variables)  # EMA, if on
