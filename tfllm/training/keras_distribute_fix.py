"""Three fixes that make Keras 3's `fit` right under tf.distribute; drop each when Keras does.

Measured with TensorFlow 2.21 and Keras 3.15 (keras-team/keras#20585,
tensorflow/tensorflow#72388), all in the TensorFlow trainer and optimizer:

1. `TensorFlowTrainer._maybe_symbolic_build` pulls one distributed batch
   and reduces it eagerly to learn the input shapes. Under
   MultiWorkerMirroredStrategy that raises "Attempt to convert a value
   (PerReplica ...) with an unsupported type"; under any strategy the
   batch comes from an extra iterator, which moves a reshuffling dataset to
   another shuffle order than a single-process run. The fix gives it the
   dataset's element_spec instead: no batch pulled, no collective.
2. `reduce_per_replica` reduces scalar losses and metrics with
   `strategy.reduce("MEAN", v, axis=0)` under MultiWorkerMirroredStrategy:
   "Invalid reduction dimension 0 for input with 0 dimensions". The fix
   reduces them with axis=None, the mean over replicas.
3. The optimizer clips each replica's gradients before it sums them, so
   `global_clipnorm` bounds the norm of a part of the batch's gradient, and
   two workers train differently from one process (measured: weights 2e-4
   apart after 6 steps of the smoke config, 0 without clipping). With
   `gradient_accumulation_steps` the all-reduce sits inside `ops.cond` and
   fails ("merge_call called while defining a new graph"). The fix sums
   the gradients first, then clips, accumulates and updates in
   cross-replica context, as one process would.

Applied for MirroredStrategy and MultiWorkerMirroredStrategy (the ones
tested here); `apply()` is idempotent, and nothing changes outside a
strategy.
"""

import tensorflow as tf
from keras.src.backend.tensorflow import optimizer as tf_optimizer
from keras.src.backend.tensorflow import trainer as tf_trainer
from keras.src.optimizers import base_optimizer

_applied = False


def apply():
    """Patches the three Keras functions (once per process)."""
    global _applied
    if _applied:
        return
    _applied = True
    maybe_symbolic_build = tf_trainer.TensorFlowTrainer._maybe_symbolic_build
    reduce_per_replica = tf_trainer.reduce_per_replica

    def symbolic_build_from_spec(self, iterator=None, data_batch=None):
        if iterator is not None and self._distribute_strategy is not None:
            data_batch, iterator = iterator.data_adapter.get_tf_dataset().element_spec, None
        return maybe_symbolic_build(self, iterator=iterator, data_batch=data_batch)

    def reduce_scalars(values, strategy, reduction):
        if (reduction in ("auto", "mean")
                and tf_trainer._collective_all_reduce_multi_worker(strategy)):
            return tf.nest.map_structure(
                lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return reduce_per_replica(values, strategy, reduction)

    tf_trainer.TensorFlowTrainer._maybe_symbolic_build = symbolic_build_from_spec
    tf_trainer.reduce_per_replica = reduce_scalars
    tf_optimizer.TFOptimizer._backend_apply_gradients = _apply_summed_gradients


def _apply_summed_gradients(self, grads, trainable_variables):
    apply_gradients = base_optimizer.BaseOptimizer._backend_apply_gradients
    context = tf.distribute.get_replica_context()
    if context is None or not tf.distribute.has_strategy():
        return apply_gradients(self, grads, trainable_variables)
    grads = context.all_reduce(tf.distribute.ReduceOp.SUM, list(grads))

    def in_cross_replica_context(strategy, grads):
        grads = [strategy.experimental_local_results(g)[0] for g in grads]
        interim = tf.__internal__.distribute.interim
        maybe_merge_call = interim.maybe_merge_call
        # Already merged: the updates inside must run directly, not merge again.
        interim.maybe_merge_call = lambda fn, strategy, *args, **kwargs: fn(
            strategy, *args, **kwargs)
        try:
            return apply_gradients(self, grads, trainable_variables)
        finally:
            interim.maybe_merge_call = maybe_merge_call

    return context.merge_call(in_cross_replica_context, args=(grads,))
