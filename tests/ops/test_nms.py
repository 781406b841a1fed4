"""The `keras.ops` NMS (what JAX and PyTorch run) keeps exactly the boxes
TensorFlow's NMS ops keep: sorted padded NMS (the RPN's) and per-class
NMS (the detection generators'), on overlapping random boxes, dots and
thresholds included."""

import numpy as np
import pytest

from spinenet_tf.ops import nms


def random_boxes(rng, shape, size=64.0):
    """Boxes [..., 4] in clusters, so that many overlap."""
    centers = rng.uniform(0, size, shape[:-1] + (2,))
    centers = np.round(centers / 16) * 16 + rng.normal(0, 3, centers.shape)
    sides = rng.uniform(4, 24, shape[:-1] + (2,))
    return np.concatenate([centers - sides / 2, centers + sides / 2], -1).astype("float32")


@pytest.mark.parametrize("count,keep", [(40, 10), (12, 20)])
def test_sorted_padded_nms_equals_tensorflows(count, keep):
    rng = np.random.default_rng(count)
    boxes = random_boxes(rng, (3, count, 4))
    boxes[0, 5] = 0.0  # a dot: never selected
    boxes[1, :3] = -1.0
    scores = -np.sort(-rng.uniform(0, 1, (3, count)), axis=1).astype("float32")
    expected = nms.sorted_nms_padded(scores, boxes, keep, 0.5)
    received = nms._sorted_nms_padded_keras(scores, boxes, keep, 0.5)
    for e, r in zip(expected, received):
        np.testing.assert_array_equal(np.asarray(r), np.asarray(e))


@pytest.mark.parametrize("per_class_boxes", [False, True])
@pytest.mark.parametrize("top_k,threshold,detections", [(30, 0.05, 20), (8, 0.5, 50)])
def test_per_class_nms_equals_tensorflows(per_class_boxes, top_k, threshold, detections):
    rng = np.random.default_rng(top_k)
    classes = 4
    shape = (2, 60, classes, 4) if per_class_boxes else (2, 60, 4)
    boxes = random_boxes(rng, shape)
    scores = rng.uniform(0, 1, (2, 60, classes)).astype("float32") ** 2
    expected = nms.per_class_nms(boxes, scores, top_k, threshold, 0.5, detections)
    received = nms._per_class_nms_keras(boxes, scores, top_k, threshold, 0.5, detections)
    assert int(np.asarray(expected["num_detections"]).min()) > 0
    for key in expected:
        np.testing.assert_allclose(np.asarray(received[key]), np.asarray(expected[key]),
                                   rtol=1e-6, err_msg=key)
