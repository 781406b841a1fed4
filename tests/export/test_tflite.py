"""TFLite export: every quantization converts and runs in LiteRT; fp32
matches the Keras model (raw outputs within 1e-3, top detections with the
same class at IoU >= 0.9)."""

import ai_edge_litert.interpreter  # noqa: F401
import numpy as np
import pytest
from support import TINY_SIZE as SIZE
from support import images_of_sizes, run_on_xnnpack, run_tflite, tiny_detector

from spinenet_tf.export.tflite import convert_to_tflite
from spinenet_tf.models.retinanet import MultilevelDetectionGenerator
from spinenet_tf.ops.tflite_detection_post_process import TFLitePostProcessConfig


@pytest.fixture(scope="module")
def detector():
    return tiny_detector()


@pytest.fixture(scope="module")
def fp32_raw(detector):
    """The fp32 file with raw outputs (converted once for the module)."""
    return convert_to_tflite(detector, post_processing=False)


def output(outputs, key):
    return outputs[key]


def iou(a, b):
    top, left = np.maximum(a[:2], b[:2])
    bottom, right = np.minimum(a[2:], b[2:])
    inter = max(bottom - top, 0) * max(right - left, 0)
    area = lambda box: (box[2] - box[0]) * (box[3] - box[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def test_fp32_raw_outputs_match_keras(detector, fp32_raw):
    image = images_of_sizes([(SIZE, SIZE)])[0]
    outputs, _ = run_tflite(fp32_raw, image)
    raw = detector.tflite_outputs(detector.preprocessor.normalize(image[None]),
                                  post_processing=False)
    for key in ("class_logits", "box_deltas"):
        np.testing.assert_allclose(outputs[key], raw[key], atol=1e-3)


@pytest.mark.every_version  # the TFLite converter of each TensorFlow
@pytest.mark.parametrize("pixel_inclusive", [False, True])
def test_fp32_regular_nms_detections_match_keras(pixel_inclusive):
    """Scores and boxes of the op equal the Keras decoder's, in Model
    Garden's box convention and in the TPU model zoo's (random box codes:
    zero codes decode to the anchor in both)."""
    detector = tiny_detector(flavor="tpu" if pixel_inclusive else "model_garden")
    rng = np.random.default_rng(5)
    for variable in detector.head.box_predictor.weights:
        variable.assign(rng.normal(0.0, 0.1, variable.shape).astype("float32"))
    config = TFLitePostProcessConfig(max_detections=10, max_classes_per_detection=1,
                                     use_regular_nms=True, detections_per_class=10,
                                     nms_score_threshold=0.3)
    flatbuffer = convert_to_tflite(detector, post_process_config=config)
    assert b"TFLite_Detection_PostProcess" in flatbuffer
    image = images_of_sizes([(SIZE, SIZE)], seed=4)[0]
    # One thread: LiteRT's multi-threaded regular NMS drops a class (below).
    outputs, _ = run_tflite(flatbuffer, image, threads=1)
    batch = detector.preprocessor.normalize(image[None])
    expected = MultilevelDetectionGenerator(pre_nms_score_threshold=0.3, max_detections=10,
                                pixel_inclusive_boxes=pixel_inclusive)(
        *(lambda raw: (raw["class_logits"], raw["box_deltas"]))(detector(batch)),
        detector.anchors_for(batch))
    count = int(expected["num_detections"][0])
    assert count > 0 and int(output(outputs, "num_detections")[0]) == count
    boxes = output(outputs, "detection_boxes")[0] * SIZE  # normalised -> pixels
    classes = output(outputs, "detection_classes")[0]
    scores = output(outputs, "detection_scores")[0]
    for k in range(min(count, 5)):
        np.testing.assert_allclose(scores[k], expected["detection_scores"][0, k], atol=1e-4)
        assert classes[k] + 1 == expected["detection_classes"][0, k]
        assert iou(boxes[k], expected["detection_boxes"][0, k].numpy()) >= 0.9
        np.testing.assert_allclose(boxes[k], expected["detection_boxes"][0, k], atol=0.05)


@pytest.fixture(scope="module")
def last_class_detector():
    """The tiny detector with the last class (0-based foreground index 2)
    scoring highest at every anchor."""
    model = tiny_detector()
    bias = model.head.class_predictor.bias
    columns = np.full(bias.shape, -4.0, "float32").reshape(-1, model.num_classes)
    columns[:, -1] = 1.0
    bias.assign(columns.ravel())
    return model


def _detected_classes(flatbuffer, image, threads):
    outputs, _ = run_tflite(flatbuffer, image, threads=threads)
    count = int(output(outputs, "num_detections")[0])
    return set(output(outputs, "detection_classes")[0, :count].astype(int))


def test_default_fast_nms_detects_every_class_on_any_thread_count(last_class_detector):
    image = images_of_sizes([(SIZE, SIZE)], seed=4)[0]
    flatbuffer = convert_to_tflite(last_class_detector)
    for threads in (1, 2, 4):
        assert 2 in _detected_classes(flatbuffer, image, threads)


def test_litert_regular_nms_on_two_threads_drops_the_class_at_index_two(
        last_class_detector):
    """Pins LiteRT's bug (TensorFlow issue 56058) that docs/export.md and
    `TFLitePostProcessConfig.from_generator` warn about: its worker threads start at
    classes 0..threads-1, then continue at threads+1, so class `threads`
    is never processed. If this fails, LiteRT fixed it: update the docs."""
    image = images_of_sizes([(SIZE, SIZE)], seed=4)[0]
    flatbuffer = convert_to_tflite(last_class_detector, nms="regular")
    assert 2 in _detected_classes(flatbuffer, image, threads=1)
    assert 2 not in _detected_classes(flatbuffer, image, threads=2)


@pytest.mark.parametrize("quantization,tolerance", [("fp16", 0.01), ("dynamic", 0.05)])
def test_float_activation_quantizations_stay_close_to_keras(detector, fp32_raw,
                                                            quantization, tolerance):
    """fp16 weights and dynamic-range (int8 weights, float activations)
    files: smaller than fp32, and their raw outputs within `tolerance` of
    the outputs' range of the Keras model's."""
    image = images_of_sizes([(SIZE, SIZE)], seed=5)[0]
    quantized = convert_to_tflite(detector, quantization, post_processing=False)
    assert len(quantized) < 0.8 * len(fp32_raw)
    outputs, _ = run_tflite(quantized, image)
    expected = detector.tflite_outputs(detector.preprocessor.normalize(image[None]),
                                       post_processing=False)
    for key, value in expected.items():
        value = np.asarray(value)
        scale = value.max() - value.min()
        assert np.max(np.abs(outputs[key] - value)) <= tolerance * scale, key


def test_int8_with_detection_post_processing_converts_and_runs(detector, fp32_raw):
    images = images_of_sizes([(SIZE, SIZE)] * 4, seed=5)
    int8 = convert_to_tflite(detector, "int8", representative_images=images,
                             uint8_input=True)
    assert len(int8) < 0.8 * len(fp32_raw)
    outputs, detail = run_tflite(int8, images[0])
    assert detail["dtype"] == np.uint8
    count = int(outputs["num_detections"][0])
    assert outputs["detection_boxes"].shape == (1, 100, 4) and count > 0
    assert np.all(outputs["detection_scores"][0, :count] >= 0.05)


@pytest.mark.every_version  # int8 calibration reads the flatbuffer (compat)
def test_int8_with_a_dead_squeeze_excitation_runs_on_xnnpack(tmp_path):
    """A trained SpineNet-Mobile can have a squeeze-excitation unit whose
    ReLU is 0 on every calibration image; XNNPACK could not requantize
    around that constant tensor and aborted the process. The ops around it
    now stay float: XNNPACK runs the file (in a child process, in case it
    aborts) and gives the built-in kernels' outputs."""
    model = tiny_detector()
    rng = np.random.default_rng(3)  # box deltas of a useful size, as class logits
    for variable in model.head.box_predictor.weights:
        variable.assign(rng.normal(0.0, 0.3, variable.shape).astype("float32"))
    reduce_conv = model.backbone.get_layer("stem2_mbconv1").squeeze_excitation.reduce_conv
    # A dead unit: its ReLU never fires. The kernel's size, against the
    # 2e-6 range of the constant output, is what XNNPACK cannot requantize.
    reduce_conv.kernel.assign(rng.normal(0.0, 10.0, reduce_conv.kernel.shape).astype("float32"))
    reduce_conv.bias.assign(np.full(reduce_conv.bias.shape, -1e4, "float32"))
    images = images_of_sizes([(SIZE, SIZE)] * 4, seed=5)
    flatbuffer = convert_to_tflite(model, "int8", representative_images=images,
                                   uint8_input=True, post_processing=False)
    on_xnnpack = run_on_xnnpack(flatbuffer, images[0], str(tmp_path))
    builtin, _ = run_tflite(flatbuffer, images[0], xnnpack=False)
    for key in ("class_logits", "box_deltas"):
        scale = np.abs(builtin[key]).max()
        np.testing.assert_allclose(on_xnnpack[key], builtin[key], atol=0.05 * scale)


def test_bad_arguments_say_what_was_received(detector):
    with pytest.raises(ValueError, match="received 'int4'"):
        convert_to_tflite(detector, "int4")
    with pytest.raises(ValueError, match="received 'greedy'"):
        convert_to_tflite(detector, nms="greedy")
    with pytest.raises(ValueError, match="int8 needs"):
        convert_to_tflite(detector, "int8")
    with pytest.raises(ValueError, match=r"shape \(64, 64, 3\)"):
        convert_to_tflite(detector, "int8", representative_images=images_of_sizes([(64, 64)]))
