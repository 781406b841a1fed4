"""spinenet_tf's BatchNormalization (TensorFlow's fused kernel in training)
equals Keras' own: outputs, gradients and moving statistics."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from spinenet_tf.layers import BatchNormalization


def _pair(center=True, scale=True, dtype=None, channels=8):
    """Keras' layer and ours, built alike with the same non-trivial weights."""
    rng = np.random.default_rng(0)
    layers = []
    for cls in (keras.layers.BatchNormalization, BatchNormalization):
        layer = cls(momentum=0.9, epsilon=1e-3, center=center, scale=scale, dtype=dtype)
        layer.build((None, 6, 5, channels))
        layers.append(layer)
    for keras_weight, our_weight in zip(layers[0].weights, layers[1].weights):
        value = rng.uniform(0.5, 1.5, keras_weight.shape).astype("float32")
        keras_weight.assign(value)
        our_weight.assign(value)
    return layers


def _train_step(layer, x, upstream):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(tf.cast(y, "float32") * upstream)
    gradients = tape.gradient(loss, [x] + layer.trainable_weights)
    return y, gradients


@pytest.mark.parametrize("center,scale", [(True, True), (False, False)])
def test_fused_training_equals_keras_batch_normalization(center, scale):
    keras_layer, ours = _pair(center, scale)
    rng = np.random.default_rng(1)
    x = tf.constant(rng.normal(3.0, 2.0, (4, 6, 5, 8)).astype("float32"))
    upstream = tf.constant(rng.normal(size=(4, 6, 5, 8)).astype("float32"))
    for _ in range(2):  # the second step starts from updated moving statistics
        expected, expected_gradients = _train_step(keras_layer, x, upstream)
        received, received_gradients = _train_step(ours, x, upstream)
        np.testing.assert_allclose(received, expected, rtol=1e-5, atol=1e-5)
        assert len(received_gradients) == len(expected_gradients) == 1 + center + scale
        for got, want in zip(received_gradients, expected_gradients):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        for name in ("moving_mean", "moving_variance"):
            np.testing.assert_allclose(getattr(ours, name).numpy(),
                                       getattr(keras_layer, name).numpy(), rtol=1e-5)
    # Inference reads the moving statistics the same way.
    np.testing.assert_allclose(ours(x, training=False), keras_layer(x, training=False),
                               rtol=1e-5, atol=1e-5)


def test_fused_training_runs_in_the_graph_the_fused_kernel():
    _, ours = _pair()
    x = tf.random.normal((2, 4, 4, 8))
    graph = tf.function(lambda v: ours(v, training=True)).get_concrete_function(x).graph
    op_types = {op.type for op in graph.get_operations()}
    assert "FusedBatchNormV3" in op_types
    assert "SquaredDifference" not in op_types  # Keras' separate moments


@pytest.mark.parametrize("channels", [8, 16])  # float32 kernel, bfloat16 kernel
def test_bfloat16_compute_keeps_float32_statistics(channels):
    keras_layer, ours = _pair(dtype="mixed_bfloat16", channels=channels)
    x = tf.constant(np.random.default_rng(2).normal(1.0, 3.0, (4, 6, 5, channels)),
                    "bfloat16")
    upstream = tf.ones((4, 6, 5, channels))
    expected, expected_gradients = _train_step(keras_layer, x, upstream)
    received, received_gradients = _train_step(ours, x, upstream)
    assert received.dtype == expected.dtype == tf.bfloat16
    assert ours.moving_mean.dtype == "float32"
    np.testing.assert_allclose(tf.cast(received, "float32"), tf.cast(expected, "float32"),
                               atol=0.05)
    np.testing.assert_allclose(ours.moving_variance.numpy(),
                               keras_layer.moving_variance.numpy(), rtol=1e-2)
    for got, want in zip(received_gradients[1:], expected_gradients[1:]):
        np.testing.assert_allclose(got, want, rtol=0.05, atol=0.05)


@pytest.mark.parametrize("channels,kernel_dtype", [(8, tf.float32), (24, tf.float32),
                                                    (16, tf.bfloat16), (64, tf.bfloat16)])
def test_bfloat16_kernel_only_on_whole_channel_blocks(channels, kernel_dtype):
    # oneDNN's bfloat16 batch norm is 2.5-7x slower than float32 on widths
    # that are not multiples of 16, and faster on those that are (CPU).
    layer = BatchNormalization(dtype="mixed_bfloat16")
    x = tf.cast(tf.random.normal((2, 4, 4, channels), seed=4), "bfloat16")
    graph = tf.function(lambda v: layer(v, training=True)).get_concrete_function(x).graph
    kernels = [op for op in graph.get_operations() if op.type == "FusedBatchNormV3"]
    assert [op.inputs[0].dtype for op in kernels] == [kernel_dtype]
    assert layer(x, training=True).dtype == tf.bfloat16


@pytest.mark.parametrize("case", ["frozen", "inference", "rank2", "synchronized"])
def test_cases_the_kernel_does_not_cover_run_keras_code(case):
    keras_layer, ours = _pair()
    x = tf.random.normal((4, 6, 5, 8), seed=3)
    training = case != "inference"
    if case == "frozen":
        keras_layer.trainable = ours.trainable = False
    if case == "rank2":
        keras_layer, ours = keras.layers.BatchNormalization(), BatchNormalization()
        x = tf.random.normal((16, 8), seed=3)
    if case == "synchronized":
        keras_layer, ours = (keras.layers.BatchNormalization(synchronized=True),
                             BatchNormalization(synchronized=True))
    assert not ours._fusable(x, training, None)
    np.testing.assert_allclose(ours(x, training=training), keras_layer(x, training=training),
                               rtol=1e-5, atol=1e-5)


def test_config_round_trip():
    layer = BatchNormalization(momentum=0.97, epsilon=1e-4, name="bn")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is BatchNormalization
    assert restored.get_config() == layer.get_config()
