"""TFLite export: every quantization converts and runs in LiteRT; fp32
matches the Keras model (raw outputs within 1e-3, top detections with the
same class at IoU >= 0.9)."""

import subprocess
import sys

import numpy as np
import pytest

from spinenet_tf.data.preprocessing import normalize_image
from spinenet_tf.detection import DetectionDecoder, TFLitePostProcessConfig
from spinenet_tf.detection.anchor_generator import flatten_multilevel
from spinenet_tf.export.tflite import convert_to_tflite

litert = pytest.importorskip("ai_edge_litert.interpreter")

from test_saved_model import SIZE, images_of_sizes, tiny_detector  # noqa: E402


@pytest.fixture(scope="module")
def detector():
    return tiny_detector()


def run_tflite(flatbuffer, image, xnnpack=True, threads=None):
    """Outputs by name (through the signature) and the input's details."""
    interpreter = litert.Interpreter(
        model_content=flatbuffer, num_threads=threads, experimental_op_resolver_type=(
            litert.OpResolverType.AUTO if xnnpack
            else litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES))
    runner = interpreter.get_signature_runner("serving_default")
    (detail,) = runner.get_input_details().values()
    return runner(image=image[None].astype(detail["dtype"])), detail


def output(outputs, key):
    return outputs[key]


def iou(a, b):
    top, left = np.maximum(a[:2], b[:2])
    bottom, right = np.minimum(a[2:], b[2:])
    inter = max(bottom - top, 0) * max(right - left, 0)
    area = lambda box: (box[2] - box[0]) * (box[3] - box[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def test_fp32_raw_outputs_match_keras(detector):
    image = images_of_sizes([(SIZE, SIZE)])[0]
    outputs, _ = run_tflite(convert_to_tflite(detector, post_processing=False), image)
    raw = detector(normalize_image(image)[None], training=False)
    num_classes = detector.num_classes
    np.testing.assert_allclose(output(outputs, "class_logits"),
                               flatten_multilevel(raw["class_logits"], num_classes),
                               atol=1e-3)
    np.testing.assert_allclose(output(outputs, "box_deltas"),
                               flatten_multilevel(raw["box_deltas"], 4), atol=1e-3)


def test_fp32_regular_nms_detections_match_keras(detector):
    config = TFLitePostProcessConfig(max_detections=10, max_classes_per_detection=1,
                                     use_regular_nms=True, detections_per_class=10,
                                     nms_score_threshold=0.3)
    flatbuffer = convert_to_tflite(detector, post_process_config=config)
    assert b"TFLite_Detection_PostProcess" in flatbuffer
    image = images_of_sizes([(SIZE, SIZE)], seed=4)[0]
    # One thread: LiteRT's multi-threaded regular NMS drops a class (below).
    outputs, _ = run_tflite(flatbuffer, image, threads=1)
    batch = normalize_image(image)[None]
    expected = DetectionDecoder(pre_nms_score_threshold=0.3, max_detections=10)(
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
    `detector_post_process_config` warn about: its worker threads start at
    classes 0..threads-1, then continue at threads+1, so class `threads`
    is never processed. If this fails, LiteRT fixed it: update the docs."""
    image = images_of_sizes([(SIZE, SIZE)], seed=4)[0]
    flatbuffer = convert_to_tflite(last_class_detector, nms="regular")
    assert 2 in _detected_classes(flatbuffer, image, threads=1)
    assert 2 not in _detected_classes(flatbuffer, image, threads=2)


@pytest.mark.parametrize("quantization", ["fp16", "dynamic", "int8"])
def test_quantized_models_convert_and_run(detector, quantization):
    images = images_of_sizes([(SIZE, SIZE)] * 4, seed=5)
    fp32 = convert_to_tflite(detector)
    quantized = convert_to_tflite(
        detector, quantization,
        representative_images=images if quantization == "int8" else None,
        uint8_input=quantization == "int8")
    assert len(quantized) < 0.8 * len(fp32)
    outputs, detail = run_tflite(quantized, images[0])
    if quantization == "int8":
        assert detail["dtype"] == np.uint8
    assert output(outputs, "detection_boxes").shape[-1] == 4
    assert 0 <= int(output(outputs, "num_detections")[0]) <= 200


XNNPACK_RUN = """
import sys, numpy as np
from ai_edge_litert import interpreter as litert
runner = litert.Interpreter(model_path=sys.argv[1], num_threads=2).get_signature_runner()
np.savez(sys.argv[3], **runner(image=np.load(sys.argv[2])[None].astype(np.uint8)))
"""


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
    (tmp_path / "model.tflite").write_bytes(flatbuffer)
    np.save(tmp_path / "image.npy", images[0])
    result = subprocess.run(
        [sys.executable, "-c", XNNPACK_RUN, str(tmp_path / "model.tflite"),
         str(tmp_path / "image.npy"), str(tmp_path / "out.npz")],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    on_xnnpack = np.load(tmp_path / "out.npz")
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
