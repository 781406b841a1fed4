"""The exported detector runs in MediaPipe Tasks' ObjectDetector: the
metadata (labels, normalisation, output roles) is read, and MediaPipe's
detections are LiteRT's (boxes within 1 px, same labels), for the fp32
file (float input) and the int8 file (uint8 input)."""

import ai_edge_litert.interpreter  # noqa: F401
import pytest

pytest.importorskip("mediapipe")  # an extra; not in the TensorFlow 2.21 environment
import mediapipe.tasks.python.vision  # noqa: E402, F401
import numpy as np  # noqa: E402
from support import TINY_SIZE as SIZE
from support import images_of_sizes, randomize_batch_norm, run_tflite, tiny_detector

from spinenet_tf.export.tflite import convert_to_tflite

pytestmark = pytest.mark.reference  # CI: the TensorFlow 2.20 environment

LABELS = ["circle", "square", "triangle"]


@pytest.fixture(scope="module")
def detector():
    model = tiny_detector()
    randomize_batch_norm(model)
    return model


def mediapipe_detections(path, image):
    """(pixel boxes [xmin, ymin, xmax, ymax], label names, label indices,
    scores) of MediaPipe's ObjectDetector on a uint8 image."""
    import mediapipe as mp
    from mediapipe.tasks.python.core.base_options import BaseOptions
    from mediapipe.tasks.python.vision import object_detector

    options = object_detector.ObjectDetectorOptions(
        base_options=BaseOptions(model_asset_path=path), max_results=100,
        score_threshold=0.0)
    with object_detector.ObjectDetector.create_from_options(options) as mediapipe_detector:
        result = mediapipe_detector.detect(
            mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image)))
    boxes = [[d.bounding_box.origin_x, d.bounding_box.origin_y,
              d.bounding_box.origin_x + d.bounding_box.width,
              d.bounding_box.origin_y + d.bounding_box.height] for d in result.detections]
    categories = [d.categories[0] for d in result.detections]
    return (np.array(boxes, float).reshape(-1, 4), [c.category_name for c in categories],
            [c.index for c in categories], np.array([c.score for c in categories]))


def as_origin_and_size(box):
    xmin, ymin, xmax, ymax = box
    return np.array([xmin, ymin, xmax - xmin, ymax - ymin])


@pytest.mark.slow
@pytest.mark.parametrize("quantization", ["fp32", "int8"])
def test_mediapipe_object_detector_gives_litert_detections(detector, quantization,
                                                          tmp_path):
    from spinenet_tf.export.mediapipe_metadata import add_detector_metadata

    images = images_of_sizes([(SIZE, SIZE)] * 4, seed=5)
    flatbuffer = convert_to_tflite(
        detector, quantization, representative_images=images if quantization == "int8"
        else None, uint8_input=quantization == "int8")
    path = tmp_path / f"model_{quantization}.tflite"
    path.write_bytes(add_detector_metadata(flatbuffer, LABELS))

    image = images_of_sizes([(SIZE, SIZE)], seed=9)[0]
    outputs, _ = run_tflite(path.read_bytes(), image)
    count = int(outputs["num_detections"][0])
    assert count > 3
    ymin, xmin, ymax, xmax = (outputs["detection_boxes"][0, :count] * SIZE).T
    expected_boxes = np.stack([xmin, ymin, xmax, ymax], axis=1)
    expected_classes = outputs["detection_classes"][0, :count].astype(int)
    expected_scores = outputs["detection_scores"][0, :count]

    boxes, names, indices, scores = mediapipe_detections(str(path), image)
    # MediaPipe moves a box's corner that lies outside the image onto its
    # edge (keeping width and height) and drops boxes far outside it; this
    # random detector predicts such boxes. Those inside the image must be
    # LiteRT's: same score and class (by its label), box within 1 px (in
    # MediaPipe's form: integer origin and size).
    inside = [k for k in range(count) if expected_boxes[k].min() >= 0
              and expected_boxes[k].max() <= SIZE]
    assert len(inside) >= 5 and len(boxes) >= 0.9 * count
    for k in inside:
        found = [j for j in range(len(boxes)) if abs(scores[j] - expected_scores[k]) <= 1e-5
                 and np.max(np.abs(as_origin_and_size(boxes[j])
                                   - as_origin_and_size(expected_boxes[k]))) <= 1.0]
        assert found, (k, expected_boxes[k], expected_scores[k])
        # (MediaPipe's C API leaves the category index unset.)
        assert indices[found[0]] in (None, expected_classes[k])
        assert names[found[0]] == LABELS[expected_classes[k]]


def test_metadata_needs_labels(detector):
    from spinenet_tf.export.mediapipe_metadata import add_detector_metadata

    with pytest.raises(ValueError, match="needs the class names"):
        add_detector_metadata(convert_to_tflite(detector), [])
