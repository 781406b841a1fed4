"""FusedAdam: Keras' Adam arithmetic in TensorFlow's fused kernel."""

import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from spinenet_tf.training.fused_adam import FusedAdam


def _train(optimizer, steps=4):
    """A few steps of a tiny model (a conv and a dense layer) on fixed
    data; its weights, the optimizer's slots and the update's op types."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6, 6, 3)), keras.layers.Conv2D(4, 3),
                              keras.layers.Flatten(), keras.layers.Dense(2)])
    x = tf.constant(np.random.default_rng(0).normal(size=(8, 6, 6, 3)), "float32")
    y = tf.constant(np.random.default_rng(1).normal(size=(8, 2)), "float32")

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x) - y))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                      model.trainable_variables))

    for _ in range(steps):
        step()
    ops = {op.type for op in step.get_concrete_function().graph.get_operations()}
    return ([w.numpy() for w in model.weights],
            [v.numpy() for v in optimizer.variables], ops)


@pytest.mark.parametrize("options", [{}, {"epsilon": 1e-3, "beta_1": 0.8},
                                     {"learning_rate": keras.optimizers.schedules.
                                      ExponentialDecay(0.01, 2, 0.5)}])
def test_fused_adam_equals_keras_adam(options):
    options = {"learning_rate": 0.01, **options}
    weights, slots, ops = _train(FusedAdam(**options))
    keras_weights, keras_slots, keras_ops = _train(keras.optimizers.Adam(**options))
    assert "ResourceApplyAdam" in ops and "ResourceApplyAdam" not in keras_ops
    for ours, theirs in zip(weights + slots, keras_weights + keras_slots):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_amsgrad_runs_keras_update_and_config_round_trips():
    weights, _, ops = _train(FusedAdam(0.01, amsgrad=True), steps=2)
    keras_weights, _, _ = _train(keras.optimizers.Adam(0.01, amsgrad=True), steps=2)
    assert "ResourceApplyAdam" not in ops
    for ours, theirs in zip(weights, keras_weights):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    optimizer = FusedAdam(0.003, beta_2=0.99, global_clipnorm=10.0)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(restored, FusedAdam)
    assert restored.get_config() == optimizer.get_config()


MIRRORED_SCRIPT = """
import keras, numpy as np, tensorflow as tf
from spinenet_tf.training.fused_adam import FusedAdam
from spinenet_tf.training.strategy import split_cpu
split_cpu(2)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    variable = keras.Variable(np.ones((3,), "float32"))
    optimizer = FusedAdam(0.1)
    optimizer.build([variable])

@tf.function
def step():
    strategy.run(lambda: optimizer.apply_gradients(
        [(tf.constant([1.0, -2.0, 0.5]), variable)]))

step()
step()
reference = keras.Variable(np.ones((3,), "float32"))
keras_adam = keras.optimizers.Adam(0.1)
for _ in range(2):  # the two replicas' gradients are summed
    keras_adam.apply_gradients([(tf.constant([2.0, -4.0, 1.0]), reference)])
for component in variable.value.values:
    np.testing.assert_allclose(component.numpy(), reference.numpy(), atol=1e-5)
print("mirrored ok", variable.numpy())
"""


def test_fused_adam_under_mirrored_strategy_updates_every_replica():
    """Inside `MirroredStrategy.update` the kernel gets each device's copy."""
    result = subprocess.run([sys.executable, "-c", MIRRORED_SCRIPT], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "mirrored ok" in result.stdout
