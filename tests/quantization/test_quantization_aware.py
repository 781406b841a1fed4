"""Quantization-aware training in Keras 3: the fake-quantized inference
form, ranges learned in training, an int8 file that takes those ranges,
and the `train.py` switch that fine-tunes a trained run."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from support import TINY_SIZE as SIZE
from support import images_of_sizes, randomize_batch_norm, run_command, tiny_detector, train_command

from spinenet_tf import inference_model, quantization_aware_model
from spinenet_tf.config import ConfigError, ExperimentConfig, validate
from spinenet_tf.layers import BatchNormalization
from spinenet_tf.layers.fake_quantization import (
    MIN_RANGE,
    ActivationQuantizer,
    QuantizedConv2D,
    QuantizedDepthwiseConv2D,
)


def layers_of(model, kind):
    return [layer for layer in model._flatten_layers(include_self=False, recursive=True)
            if isinstance(layer, kind)]


def nudged_range(quantizer):
    """(scale, int8 zero point) TensorFlow's FakeQuant gives the range."""
    low = min(float(quantizer.range_min.numpy()), 0.0)
    high = max(float(quantizer.range_max.numpy()), low + MIN_RANGE)
    scale = (high - low) / 255
    return scale, int(round(-low / scale)) - 128


@pytest.fixture(scope="module")
def float_and_qat():
    """A tiny detector with trained-like batch norms, its quantization-aware
    form after one training pass (which sets the ranges), and that batch."""
    model = tiny_detector()
    randomize_batch_norm(model)
    qat = quantization_aware_model(model)
    images = images_of_sizes([(SIZE, SIZE)] * 4, seed=5)
    batch = model.preprocessor.normalize(np.stack(images).astype("float32"))
    qat(batch, training=True)
    return model, qat, batch


def test_the_form_is_folded_with_fake_quantized_convs_and_activations(float_and_qat):
    model, _, batch = float_and_qat
    qat = quantization_aware_model(model)
    folded = inference_model(model)
    assert not layers_of(qat, BatchNormalization)
    convs = [type(layer) for layer in layers_of(folded, keras.layers.Conv2D)]
    assert len(layers_of(qat, (QuantizedConv2D, QuantizedDepthwiseConv2D))) >= len(convs) > 40
    quantizers = layers_of(qat, ActivationQuantizer)
    assert len(quantizers) > 100
    # Before training only the kernels are rounded: close to the float model.
    expected = model(batch)["class_logits"]["P3"].numpy()
    received = qat(batch)["class_logits"]["P3"].numpy()
    assert not np.array_equal(received, expected)
    assert np.max(np.abs(received - expected)) < 0.05 * np.ptp(expected)
    # A training pass sets every range.
    qat(batch, training=True)
    for quantizer in quantizers:
        assert float(quantizer.initialized.numpy()) == 1.0
        assert float(quantizer.range_min.numpy()) <= 0.0 <= float(quantizer.range_max.numpy())
    received = qat(batch)["class_logits"]["P3"].numpy()
    assert np.max(np.abs(received - expected)) < 0.1 * np.ptp(expected)


def test_the_form_saves_and_loads(float_and_qat, tmp_path):
    _, qat, batch = float_and_qat
    qat.save(str(tmp_path / "qat.keras"))
    loaded = keras.saving.load_model(str(tmp_path / "qat.keras"))
    for key, value in qat(batch).items():
        for level in value:
            np.testing.assert_allclose(loaded(batch)[key][level], value[level], atol=1e-6)


def test_activation_quantizer_learns_its_range_from_the_batches():
    quantizer = ActivationQuantizer(activation="relu", momentum=0.5)
    first = tf.constant([[-1.0, 0.5, 2.0]])
    unchanged = quantizer(first)  # no range yet: a pass-through
    np.testing.assert_allclose(unchanged, [[0.0, 0.5, 2.0]])
    quantizer(first, training=True)
    assert (float(quantizer.range_min.numpy()), float(quantizer.range_max.numpy())) == (0.0, 2.0)
    quantizer(tf.constant([[4.0]]), training=True)  # halfway to its range [0, 4]
    assert float(quantizer.range_max.numpy()) == pytest.approx(3.0)
    values = tf.constant([[0.1, 1.234, 2.9, 5.0]])
    with tf.GradientTape() as tape:
        tape.watch(values)
        outputs = quantizer(values)
    step = 3.0 / 255
    np.testing.assert_allclose(outputs / step, np.round(outputs / step), atol=1e-3)
    assert float(outputs[0, 3]) == pytest.approx(3.0, abs=step)  # clipped to the range
    # Gradients pass straight through inside the range, not outside it.
    np.testing.assert_allclose(tape.gradient(outputs, values), [[1.0, 1.0, 1.0, 0.0]])
    with pytest.raises(ValueError, match="received 1.5"):
        ActivationQuantizer(momentum=1.5)


@pytest.mark.slow
def test_int8_file_takes_the_learned_ranges(float_and_qat):
    import ai_edge_litert.interpreter  # noqa: F401
    from tensorflow.lite.tools import flatbuffer_utils

    from spinenet_tf.export.tflite import convert_to_tflite

    _, qat, _ = float_and_qat
    # Calibrated on other images than the batch that set the ranges: the
    # file's ranges are the learned ones, not what calibration would find.
    flatbuffer = convert_to_tflite(qat, "int8", post_processing=False,
                                   representative_images=images_of_sizes(
                                       [(SIZE, SIZE)] * 2, seed=11))
    graph = flatbuffer_utils.read_model_from_bytearray(bytearray(flatbuffer)).subgraphs[0]
    ranges = {(round(float(t.quantization.scale[0]), 9), int(t.quantization.zeroPoint[0]))
              for t in graph.tensors
              if t.quantization is not None and t.quantization.scale is not None
              and len(t.quantization.scale) == 1}

    def in_file(quantizer):
        scale, zero_point = nudged_range(quantizer)
        return any(abs(s - scale) <= 1e-5 * scale and z == zero_point for s, z in ranges)

    quantizers = layers_of(qat, ActivationQuantizer)
    missing = [q.path for q in quantizers if not in_file(q)]
    assert not missing, missing


def test_config_switch_needs_a_trained_float_run():
    config = ExperimentConfig()
    config.model.quantization_aware = True
    with pytest.raises(ConfigError, match="set model.init_from to its train.py folder"):
        validate(config)
    config.model.init_from = "runs/float"
    config.trainer.mixed_precision = "bfloat16"
    with pytest.raises(ConfigError, match="received trainer.mixed_precision 'bfloat16'"):
        validate(config)


@pytest.mark.slow
def test_train_py_fine_tunes_a_trained_run_quantization_aware(synthetic_data, trained_run,
                                                              tmp_path):
    from spinenet_tf.training.checkpoints import load_model_dir

    model_dir = str(tmp_path / "qat")
    run_command(train_command(synthetic_data, model_dir, 2, 2, extra=[
        "--set", "model.quantization_aware=true", "--set", f"model.init_from={trained_run}",
        "--set", "optimizer.values=[0.0005]", "--set", "optimizer.warmup_steps=0"]))
    qat, checkpoint = load_model_dir(model_dir)
    assert checkpoint.endswith("ckpt-2")
    quantizers = layers_of(qat, ActivationQuantizer)
    assert quantizers and all(float(q.initialized.numpy()) == 1.0 for q in quantizers)
    # It started from the trained run's weights, folded.
    trained, _ = load_model_dir(trained_run)
    start = quantization_aware_model(trained)
    kernel = "head/class_logits/pointwise_kernel"
    (before,) = [v for v in start.variables if v.path.endswith(kernel)]
    (after,) = [v for v in qat.variables if v.path.endswith(kernel)]
    change = np.abs(after.numpy() - before.numpy()).max()
    assert 0 < change < 0.1 * np.abs(before.numpy()).max() + 1e-3
    assert os.path.exists(os.path.join(model_dir, "model.keras"))
