"""Keras' Adam, applied with TensorFlow's fused Adam kernel."""

import keras

from spinenet_tf.compat.keras_internals import adam_slots


@keras.saving.register_keras_serializable(package="spinenet_tf")
class FusedAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` whose per-variable update is one
    `ResourceApplyAdam` op on the TensorFlow backend.

    Why: Keras 3 writes Adam's update as about a dozen small ops per
    variable (casts, powers, two moment updates, the step). For the demo's
    RetinaNet (539 variables) that is some 6,000 ops for `tf.function` to
    trace and place; tracing the train step took 11 s longer than with SGD
    (docs/benchmarks.md). The fused kernel does the same arithmetic,

        m <- m + (g - m)(1 - beta_1),  v <- v + (g^2 - v)(1 - beta_2),
        var <- var - lr sqrt(1 - beta_2^t) / (1 - beta_1^t) m / (sqrt(v) + epsilon),

    in one op; results equal Keras' Adam to float rounding
    (tests/training/test_fused_adam.py). Other backends, `amsgrad` and
    sparse (`IndexedSlices`) gradients run Keras' own update. The config
    and the slot variables are Keras' own, so checkpoints of either load
    into the other.
    """

    def update_step(self, gradient, variable, learning_rate):
        import tensorflow as tf

        if (keras.backend.backend() != "tensorflow" or self.amsgrad
                or isinstance(gradient, tf.IndexedSlices)):
            return super().update_step(gradient, variable, learning_rate)
        momentum, velocity = adam_slots(self, variable)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=_handle(variable),
            m=_handle(momentum),
            v=_handle(velocity),
            beta1_power=tf.pow(tf.cast(self.beta_1, dtype), step),
            beta2_power=tf.pow(tf.cast(self.beta_2, dtype), step),
            lr=tf.cast(learning_rate, dtype),
            beta1=tf.cast(self.beta_1, dtype),
            beta2=tf.cast(self.beta_2, dtype),
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
            use_locking=False)


def _handle(variable):
    """The resource handle of a Keras or tf.Variable (inside a distribution
    strategy's update, the current device's copy)."""
    if isinstance(variable, keras.Variable):
        variable = variable.value
    return variable.handle
