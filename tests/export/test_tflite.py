"""TFLite export: every quantization converts and runs in LiteRT; fp32
matches the Keras model (raw outputs within 1e-3, top detections with the
same class at IoU >= 0.9)."""

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


def run_tflite(flatbuffer, image, xnnpack=True):
    """Outputs by name (through the signature) and the input's details."""
    interpreter = litert.Interpreter(
        model_content=flatbuffer, experimental_op_resolver_type=(
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


def test_fp32_detections_match_keras(detector):
    config = TFLitePostProcessConfig(max_detections=10, max_classes_per_detection=1,
                                     use_regular_nms=True, detections_per_class=10,
                                     nms_score_threshold=0.3)
    flatbuffer = convert_to_tflite(detector, post_process_config=config)
    assert b"TFLite_Detection_PostProcess" in flatbuffer
    image = images_of_sizes([(SIZE, SIZE)], seed=4)[0]
    outputs, _ = run_tflite(flatbuffer, image)
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


@pytest.mark.parametrize("quantization", ["fp16", "dynamic", "int8"])
def test_quantized_models_convert_and_run(detector, quantization):
    images = images_of_sizes([(SIZE, SIZE)] * 4, seed=5)
    fp32 = convert_to_tflite(detector)
    quantized = convert_to_tflite(
        detector, quantization,
        representative_images=images if quantization == "int8" else None,
        uint8_input=quantization == "int8")
    assert len(quantized) < 0.8 * len(fp32)
    # int8: XNNPACK aborts on trained int8 files (TFLiteDetector).
    outputs, detail = run_tflite(quantized, images[0], xnnpack=quantization != "int8")
    if quantization == "int8":
        assert detail["dtype"] == np.uint8
    assert output(outputs, "detection_boxes").shape[-1] == 4
    assert 0 <= int(output(outputs, "num_detections")[0]) <= 200


def test_bad_arguments_say_what_was_received(detector):
    with pytest.raises(ValueError, match="received 'int4'"):
        convert_to_tflite(detector, "int4")
    with pytest.raises(ValueError, match="int8 needs"):
        convert_to_tflite(detector, "int8")
    with pytest.raises(ValueError, match=r"shape \(64, 64, 3\)"):
        convert_to_tflite(detector, "int8", representative_images=images_of_sizes([(64, 64)]))
