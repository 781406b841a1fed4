"""The optimizer of an `ExperimentConfig`."""

import keras

from spinenet_tf.training.fused_adam import FusedAdam
from spinenet_tf.training.learning_rate import StepwiseWithWarmup

OPTIMIZER_TYPES = ("sgd", "adam")


def build_optimizer(config):
    """SGD with momentum (the reference's) or Adam (quicker to converge on
    short CPU schedules such as the demo's; Keras' Adam with TensorFlow's
    fused update), on the reference's warmup + stepwise schedule."""
    optimizer = config.optimizer
    if optimizer.type not in OPTIMIZER_TYPES:
        raise ValueError(f"optimizer.type must be one of {OPTIMIZER_TYPES}; "
                         f"received {optimizer.type!r}.")
    schedule = StepwiseWithWarmup(optimizer.boundaries, optimizer.values,
                                  optimizer.warmup_steps, optimizer.warmup_learning_rate)
    if optimizer.type == "adam":
        return FusedAdam(learning_rate=schedule, global_clipnorm=optimizer.global_clipnorm)
    return keras.optimizers.SGD(learning_rate=schedule, momentum=optimizer.momentum,
                                global_clipnorm=optimizer.global_clipnorm)
