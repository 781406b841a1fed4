"""Shared test helpers: tiny inputs, reference twins, round trips."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


def random_images(shape, batch=2, seed=0):
    """Deterministic float images in [-2, 2] (roughly normalised pixels)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-2.0, 2.0, (batch,) + tuple(shape)).astype("float32")


def randomize_batch_norm(model, seed=0):
    """Gives every batch norm non-trivial statistics and affine weights.

    Freshly built models have mean 0 / variance 1 / gamma 1 / beta 0, which
    would hide a wrongly paired batch norm in a parity test. Each channel
    gets its own values; gamma <= 1 <= variance so, as in a trained network,
    no batch norm amplifies, and activations of deep variants stay O(1).
    """
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        name = weight.name
        if "variance" in name:
            weight.assign(rng.uniform(1.0, 2.0, weight.shape).astype("float32"))
        elif "gamma" in name:
            weight.assign(rng.uniform(0.5, 1.0, weight.shape).astype("float32"))
        elif "moving_mean" in name or "beta" in name:
            weight.assign(rng.normal(0.0, 0.1, weight.shape).astype("float32"))


def max_abs_difference(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def assert_config_round_trip(layer_or_model):
    """from_config(get_config()) gives the same config again."""
    config = layer_or_model.get_config()
    restored = type(layer_or_model).from_config(config)
    assert restored.get_config() == config
    return restored


def assert_keras_save_load(model, inputs, tmp_path):
    """`.keras` save -> load reproduces the outputs exactly."""
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    expected = model(inputs, training=False)
    received = loaded(inputs, training=False)
    for key in expected:
        np.testing.assert_allclose(received[key], expected[key], atol=1e-6)
    return loaded


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def profiler_macs(forward, shape):
    """Conv / matmul multiply-adds of `forward`'s graph, from TensorFlow's
    profiler (an oracle independent of `spinenet_tf.model_complexity`)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)

    function = tf.function(forward)
    frozen = convert_variables_to_constants_v2(
        function.get_concrete_function(tf.TensorSpec((1,) + tuple(shape), tf.float32)))
    builder = tf.compat.v1.profiler.ProfileOptionBuilder
    options = builder(builder.float_operation()).with_empty_output().build()
    options["account_type_regexes"] = ["Conv2D", "DepthwiseConv2dNative", "MatMul"]
    flops = tf.compat.v1.profiler.profile(graph=frozen.graph, options=options)
    return flops.total_float_ops / 2  # the profiler counts a multiply-add as 2
