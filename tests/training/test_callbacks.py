"""Best checkpoint and early stopping: the best epoch's weights, and state that survives a resume."""

import os

import keras
import numpy as np

from tfllm.training import callbacks as callbacks_lib


def tiny_model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.stop_training = False
    return model


def run_epochs(model, callbacks, losses, first_epoch=0):
    """Sets the kernel to the epoch number, then ends the epoch with `val_loss` from `losses`."""
    for epoch, loss in enumerate(losses, first_epoch):
        model.layers[0].kernel.assign(np.full((2, 1), epoch, np.float32))
        for callback in callbacks:
            callback.on_epoch_end(epoch, {"val_loss": loss})
        if model.stop_training:
            return epoch
    return None


def with_model(model, *callbacks):
    for callback in callbacks:
        callback.set_model(model)
    return list(callbacks)


def test_early_stopping_ends_with_the_best_epochs_weights(tmp_path):
    best = str(tmp_path / "best.weights.h5")
    model = tiny_model()
    callbacks = with_model(model, callbacks_lib.BestCheckpoint(best, "val_loss", "min"),
                           callbacks_lib.EarlyStopping(best, "val_loss", "min", 2, epochs=10))
    stopped = run_epochs(model, callbacks, [1.0, 0.5, 0.7, 0.8, 0.4])
    assert stopped == 3  # two epochs without a lower val_loss than epoch 1's
    assert np.all(model.layers[0].kernel.numpy() == 1)  # epoch 1's weights, from the file
    assert os.path.exists(best)


def test_a_run_that_ends_without_stopping_keeps_its_best_epoch_too(tmp_path):
    best = str(tmp_path / "best.weights.h5")
    model = tiny_model()
    callbacks = with_model(model, callbacks_lib.BestCheckpoint(best, "val_loss", "min"),
                           callbacks_lib.EarlyStopping(best, "val_loss", "min", 5, epochs=3))
    assert run_epochs(model, callbacks, [0.9, 0.3, 0.6]) is None
    assert np.all(model.layers[0].kernel.numpy() == 1)


def test_state_carries_over_to_a_resumed_run(tmp_path):
    best = str(tmp_path / "best.weights.h5")
    first = [callbacks_lib.BestCheckpoint(best, "val_loss", "min"),
             callbacks_lib.EarlyStopping(best, "val_loss", "min", 2, epochs=10)]
    model = tiny_model()
    run_epochs(model, with_model(model, *first), [1.0, 0.5, 0.7])  # one epoch without gain
    states = [c.backup_state() for c in first]

    resumed = [callbacks_lib.BestCheckpoint(best, "val_loss", "min"),
               callbacks_lib.EarlyStopping(best, "val_loss", "min", 2, epochs=10)]
    for callback, state in zip(resumed, states, strict=True):
        callback.restore_state(state)
    model = tiny_model()
    # 0.6 is not below the restored best (0.5): the second epoch without gain stops the run.
    assert run_epochs(model, with_model(model, *resumed), [0.6], first_epoch=3) == 3
    assert np.all(model.layers[0].kernel.numpy() == 1)
