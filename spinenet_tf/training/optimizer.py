"""The optimizer of an `ExperimentConfig`."""

import keras

from spinenet_tf.training.learning_rate import StepwiseWithWarmup


def build_optimizer(config):
    """SGD with momentum on the reference's warmup + stepwise schedule."""
    optimizer = config.optimizer
    if optimizer.type != "sgd":
        raise ValueError(f"optimizer.type must be 'sgd'; received {optimizer.type!r}.")
    schedule = StepwiseWithWarmup(optimizer.boundaries, optimizer.values,
                                  optimizer.warmup_steps, optimizer.warmup_learning_rate)
    return keras.optimizers.SGD(learning_rate=schedule, momentum=optimizer.momentum,
                                global_clipnorm=optimizer.global_clipnorm)
