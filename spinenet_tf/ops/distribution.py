"""Losses under `tf.distribute`: what a model's own `compute_loss` must do
that Keras' compiled losses do for it.

Keras sums the replicas' gradients, and its compiled losses divide each
replica's loss by the number of replicas; a model that computes its loss
itself (RetinaNet, Mask R-CNN) does the same with `per_replica_share`, as
tf-models-official's tasks divide by `num_replicas_in_sync`. Outside a
strategy (or on another backend) both functions return their input.
"""

import keras


def _replica_context():
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


def per_replica_share(loss):
    """`loss` / the number of replicas in sync."""
    context = _replica_context()
    return loss if context is None else loss / context.num_replicas_in_sync


def replica_mean(value):
    """The mean of `value` over the replicas in sync (a normaliser the
    reference averages over replicas)."""
    context = _replica_context()
    if context is None:
        return value
    import tensorflow as tf

    return context.all_reduce(tf.distribute.ReduceOp.MEAN, value)
