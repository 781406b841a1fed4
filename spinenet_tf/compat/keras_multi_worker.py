"""Work-arounds that let Keras 3 `fit` run under MultiWorkerMirroredStrategy.

Keras' TensorFlow trainer (seen in Keras 3.15) has two multi-worker bugs
that stop `fit` before its first step; one worker fails and the other then
waits forever in its first collective:

1. Before training (`_maybe_symbolic_build`) it takes one batch and calls
   `strategy.reduce("MEAN", batch)` on the whole nested batch to get plain
   tensors; `MultiWorkerMirroredStrategy` refuses nested structures
   ("Attempt to convert a value (PerReplica...) ... to a Tensor"). Only the
   batch's shapes and dtypes are used, so the replica-local values serve.
2. Each step's logs are reduced with `strategy.reduce("MEAN", v, axis=0)`,
   which fails on the scalar losses and metrics ("Invalid reduction
   dimension 0 for input with 0 dimensions"). The mean across replicas is
   `axis=None`, as the single-worker branch computes.

`multi_worker_fit(model)` applies both fixes while it is active; the second
one replaces Keras' module-level `reduce_per_replica` and restores it on
exit. The private internals they need are checked by `keras_internals`, which
raises `InternalChanged` naming the internal (with a Keras outside the
tested range, or where it is gone) before the workers could hang in their
first collective.
"""

import contextlib
import types

import tensorflow as tf
from keras import tree

from spinenet_tf.compat import keras_internals


def _local_value(value):
    if isinstance(value, tf.distribute.DistributedValues):
        return value.values[0]
    return value


def _build_from_local_batch(model, iterator=None, data_batch=None):
    if iterator is not None and data_batch is None:
        for _, _, batches in iterator:
            data_batch = tree.map_structure(_local_value, next(batches))
            break
    with model.distribute_strategy.scope():
        keras_internals.symbolic_build(model, data_batch)


def _reduce_per_replica(original):
    def reduce_per_replica(values, strategy, reduction):
        if (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
                and reduction in ("auto", "mean")):
            return tree.map_structure(
                lambda v: strategy.reduce("MEAN", v, axis=None)
                if isinstance(v, tf.distribute.DistributedValues) else v, values)
        return original(values, strategy, reduction)

    return reduce_per_replica


@contextlib.contextmanager
def multi_worker_fit(model):
    """Lets `model.fit/evaluate` run under MultiWorkerMirroredStrategy."""
    trainer = keras_internals.tensorflow_trainer_module()
    keras_internals.symbolic_build_hooks(model)
    model._maybe_symbolic_build = types.MethodType(_build_from_local_batch, model)
    original = trainer.reduce_per_replica
    trainer.reduce_per_replica = _reduce_per_replica(original)
    try:
        yield
    finally:
        trainer.reduce_per_replica = original
