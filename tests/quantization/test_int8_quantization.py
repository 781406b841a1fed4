"""int8 through TensorFlow's public QuantizationDebugger: the per-layer
report, layers kept float on request, the AP-budget search, and clear
errors for bad calibration folders."""

import ai_edge_litert.interpreter  # noqa: F401
import numpy as np
import pytest
from support import TINY_SIZE as SIZE
from support import images_of_sizes, run_tflite, tiny_detector

from spinenet_tf.export.tflite import int8_quantizer
from spinenet_tf.export.tflite_export import calibration_images
from spinenet_tf.layers import ImagePreprocessor
from spinenet_tf.quantization.int8_quantizer import (
    block_of,
    float_layer_steps,
    format_report,
    quantize_within_budget,
    write_report,
)


@pytest.fixture(scope="module")
def detector():
    return tiny_detector()


@pytest.fixture(scope="module")
def quantizer(detector):
    """The tiny detector with raw outputs, calibrated once for the module."""
    return int8_quantizer(detector, images_of_sizes([(SIZE, SIZE)] * 4, seed=5),
                          post_processing=False, uint8_input=True)


def tensor_types(flatbuffer):
    """{tensor name: TFLite type number} of the main graph."""
    from tensorflow.lite.tools import flatbuffer_utils

    graph = flatbuffer_utils.read_model_from_bytearray(bytearray(flatbuffer)).subgraphs[0]
    return {t.name.decode(): t.type for t in graph.tensors}


INT8, FLOAT32 = 9, 0  # TensorType in TFLite's schema


@pytest.mark.slow
def test_report_ranks_every_quantized_op_by_its_error(quantizer, tmp_path):
    report = quantizer.report
    assert len(report) > 50  # every conv, activation, add, resampling op
    errors = [row["rmse_per_scale"] for row in report]
    assert errors == sorted(errors, reverse=True)
    assert [row["rank"] for row in report] == list(range(1, len(report) + 1))
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD"} <= {row["op"] for row in report}
    assert all(row["scale"] > 0 and np.isfinite(row["rmse_per_scale"]) for row in report)
    # Names are readable: the model's outer scopes are dropped.
    assert not any(row["layer"].startswith("retinanet") for row in report)
    path = tmp_path / "layers.csv"
    write_report(report, path)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("rank,op,layer,rmse_per_scale") and len(lines) == len(report) + 1
    assert len(format_report(report, count=5).splitlines()) == 6


def test_layers_named_in_the_report_stay_float(quantizer):
    worst = quantizer.worst_layers(3)
    assert worst == [row["tensor_name"] for row in quantizer.report[:3]]
    all_int8 = tensor_types(quantizer.quantize())
    selective = tensor_types(quantizer.quantize(worst))
    for name in worst:
        assert all_int8[name] == INT8
        assert selective[name] == FLOAT32


def raw_output_error(detector, images):
    """The cost the budget search minimises here: the raw outputs' RMSE
    against Keras, in hundredths of their range."""
    expected = [detector.tflite_outputs(detector.preprocessor.normalize(
        image[None].astype("float32")), post_processing=False) for image in images]

    def cost(flatbuffer):
        errors = []
        for image, reference in zip(images, expected):
            received, _ = run_tflite(flatbuffer, image, xnnpack=False)
            for key, value in reference.items():
                value = np.asarray(value)
                errors.append(np.sqrt(np.mean((received[key] - value) ** 2))
                              / (value.max() - value.min()))
        return 100 * float(np.mean(errors))

    return cost


def test_budget_keeps_the_worst_layers_float_until_it_is_met(detector, quantizer):
    cost = raw_output_error(detector, images_of_sizes([(SIZE, SIZE)] * 2, seed=8))
    everything = len(quantizer.worst_layers(10**9))
    all_int8 = cost(quantizer.quantize())
    all_float = cost(quantizer.quantize(quantizer.worst_layers(everything)))
    assert all_float < 0.05 * all_int8
    budget = (all_int8 + all_float) / 2
    tried = []
    flatbuffer, layers, measured, met = quantize_within_budget(
        quantizer, cost, budget, max_float_layers=everything,
        log=lambda line: tried.append(line))
    assert met and measured <= budget and 0 < len(layers) <= everything
    assert layers == quantizer.worst_layers(len(layers))  # the worst, by the report
    assert len(tried) == float_layer_steps(everything).index(len(layers)) + 1
    assert abs(cost(flatbuffer) - measured) < 1e-6


def test_an_unreachable_budget_returns_the_best_file_and_says_so(detector, quantizer):
    error = raw_output_error(detector, images_of_sizes([(SIZE, SIZE)], seed=8))
    measured_costs = []

    def cost(flatbuffer):
        measured_costs.append(error(flatbuffer))
        return measured_costs[-1]

    flatbuffer, layers, measured, met = quantize_within_budget(
        quantizer, cost, budget=-1.0, max_float_layers=2, log=lambda _: None)
    assert not met and len(layers) <= 2
    assert len(measured_costs) >= 3  # 0, 1 and 2 layers, then blocks of at most 2
    assert measured == min(measured_costs) == error(flatbuffer)


def test_blocks_of_the_worst_layers_go_float_when_single_layers_are_not_enough(quantizer):
    # A cost that only the whole block of the worst layer, all its ops
    # float, brings to zero: what a chain of ops that each requantize the
    # same error looks like. Single worst layers (at most as many as the
    # block has ops) do not reach it; the block search does.
    block = block_of(quantizer.report[0]["layer"])
    members = [r["tensor_name"] for r in quantizer.report
               if block_of(r["layer"]) == block and r["tensor_name"]
               not in quantizer.constant_nodes]
    assert len(members) > 1 and set(quantizer.worst_layers(len(members))) != set(members)

    def cost(flatbuffer):
        types = tensor_types(flatbuffer)
        return float(sum(types[name] == INT8 for name in members))

    log = []
    _, layers, measured, met = quantize_within_budget(
        quantizer, cost, budget=0.0, max_float_layers=len(members), log=log.append)
    assert met and measured == 0.0
    assert sorted(layers) == sorted(members)
    assert f"the 1 worst block ({block}: {len(members)} layers)" in log[-1]
    blocks, names = quantizer.worst_blocks(2, max_ops=len(members))
    assert blocks == [block] and names == members  # the next block does not fit


def test_float_layer_steps_double_up_to_the_limit():
    assert float_layer_steps(0) == [0]
    assert float_layer_steps(1) == [0, 1]
    assert float_layer_steps(6) == [0, 1, 2, 4, 6]
    assert float_layer_steps(8) == [0, 1, 2, 4, 8]


def test_bad_calibration_folders_are_clear_errors(tmp_path):
    from PIL import Image

    with pytest.raises(FileNotFoundError, match="does not exist"):
        calibration_images(str(tmp_path / "missing"), 4, ImagePreprocessor((64, 64)))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    with pytest.raises(FileNotFoundError, match=f"No images .* under '{empty}'"):
        calibration_images(str(empty), 4, ImagePreprocessor((64, 64)))
    few = tmp_path / "few"
    few.mkdir()
    for k in range(3):
        Image.fromarray(np.full((32, 40, 3), 60 * k, np.uint8)).save(few / f"{k}.png")
    with pytest.raises(ValueError, match=f"4 calibration images requested, but '{few}' "
                                         "has 3; pass --calibration_images 3"):
        calibration_images(str(few), 4, ImagePreprocessor((64, 64)))
    assert [image.shape for image in calibration_images(str(few), 3, ImagePreprocessor((64, 64)))] == [
        (64, 64, 3)] * 3
    (few / "3.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="3.jpg' cannot be read as an image"):
        calibration_images(str(few), 4, ImagePreprocessor((64, 64)))
