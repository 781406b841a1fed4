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
exit. They reach into private Keras internals, tested with the Keras range
`setup.cfg` pins (`TESTED_KERAS`); if any internal they need is missing,
`multi_worker_fit` raises at once, naming it, instead of letting the
workers hang in their first collective.
"""

import contextlib
import importlib
import types

import keras
import tensorflow as tf
from keras import tree

# The Keras versions these work-arounds were written for and tested with.
TESTED_KERAS = ">=3.15,<3.16"
_TRAINER_MODULE = "keras.src.backend.tensorflow.trainer"


class KerasInternalsChanged(RuntimeError):
    """The private Keras internals the multi-worker work-arounds patch are gone."""


def _keras_tf_trainer():
    try:
        return importlib.import_module(_TRAINER_MODULE)
    except ImportError as error:
        raise KerasInternalsChanged(_changed(f"module {_TRAINER_MODULE}")) from error


def _changed(what):
    return (f"Multi-worker training patches Keras' {what}, which Keras "
            f"{keras.__version__} does not have (tested with keras{TESTED_KERAS}). "
            "Install a tested Keras, or check whether this Keras version fixed "
            "the bugs described in spinenet_tf/training/keras_multi_worker.py.")


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
        model._symbolic_build(data_batch=data_batch)


def _reduce_per_replica(original):
    def reduce_per_replica(values, strategy, reduction):
        if (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
                and reduction in ("auto", "mean")):
            return tree.map_structure(
                lambda v: strategy.reduce("MEAN", v, axis=None)
                if isinstance(v, tf.distribute.DistributedValues) else v, values)
        return original(values, strategy, reduction)

    return reduce_per_replica


def check_keras_internals(model):
    """Raises `KerasInternalsChanged` naming whatever the patches need and
    this Keras lacks."""
    trainer = _keras_tf_trainer()
    for owner, name in ((model, "_maybe_symbolic_build"), (model, "_symbolic_build"),
                        (trainer, "reduce_per_replica")):
        if not callable(getattr(owner, name, None)):
            where = "Model" if owner is model else _TRAINER_MODULE
            raise KerasInternalsChanged(_changed(f"{where}.{name}"))
    return trainer


@contextlib.contextmanager
def multi_worker_fit(model):
    """Lets `model.fit/evaluate` run under MultiWorkerMirroredStrategy."""
    trainer = check_keras_internals(model)
    model._maybe_symbolic_build = types.MethodType(_build_from_local_batch, model)
    original = trainer.reduce_per_replica
    trainer.reduce_per_replica = _reduce_per_replica(original)
    try:
        yield
    finally:
        trainer.reduce_per_replica = original
