"""Anchors, box coding, target assignment, losses and NMS against
tf-models-official's ops on the same inputs."""

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

pytest.importorskip("official")  # the oracle: TensorFlow 2.20 only
from official.vision.losses import focal_loss  # noqa: E402
from official.vision.ops import anchor as anchor_ops  # noqa: E402
from official.vision.ops import box_ops, iou_similarity  # noqa: E402

from spinenet_tf.models.retinanet import AnchorLabeler, MultilevelDetectionGenerator, RetinaNetLoss
from spinenet_tf.ops import box_iou, decode_boxes, encode_boxes
from spinenet_tf.ops.anchor_generator import AnchorGenerator, flatten_multilevel
from spinenet_tf.ops.box_ops import clip_boxes

pytestmark = pytest.mark.reference  # CI: the TensorFlow 2.20 environment

TOLERANCE = dict(rtol=1e-5, atol=1e-5)


def random_boxes(rng, count, height, width, min_side=4.0):
    """Valid boxes inside an image: ymin < ymax, xmin < xmax."""
    y = np.sort(rng.uniform(0, height, (count, 2)), axis=1)
    x = np.sort(rng.uniform(0, width, (count, 2)), axis=1)
    y[:, 1] = np.minimum(y[:, 1] + min_side, height)
    x[:, 1] = np.minimum(x[:, 1] + min_side, width)
    return np.stack([y[:, 0], x[:, 0], y[:, 1], x[:, 1]], -1).astype("float32")


@pytest.mark.parametrize("size,levels,scales,ratios,anchor_size", [
    ((256, 256), (3, 7), 3, (0.5, 1.0, 2.0), 3.0),
    ((384, 640), (3, 7), 3, (0.5, 1.0, 2.0), 4.0),
    ((128, 64), (2, 5), 2, (1.0, 3.0), 8.0),
])
def test_anchors_match_reference(size, levels, scales, ratios, anchor_size):
    ours = AnchorGenerator(*levels, scales, ratios, anchor_size)
    theirs = anchor_ops.Anchor(*levels, scales, list(ratios), anchor_size,
                               list(size)).multilevel_boxes
    mine = ours.multilevel_anchors(*size)
    assert [f"P{k}" for k in theirs] == list(mine)
    for level, boxes in theirs.items():
        np.testing.assert_allclose(mine[f"P{level}"], boxes.numpy(), **TOLERANCE)
    assert ours.flat_anchors(*size).shape == (
        sum(b.shape[0] * b.shape[1] for b in theirs.values()) * scales * len(ratios), 4)


def test_anchor_side_from_first_principles():
    anchors = AnchorGenerator(3, 3, 3, (1.0,), 3.0).multilevel_anchors(64, 64)["P3"]
    first = anchors[0, 0]  # centre (4, 4), sides 24, 24 * 2^(1/3), 24 * 2^(2/3)
    sides = first[2::4] - first[0::4]
    np.testing.assert_allclose(sides, 24 * 2 ** (np.arange(3) / 3), rtol=1e-6)
    np.testing.assert_allclose(first[0] + sides[0] / 2, 4.0)


@pytest.mark.parametrize("size", [(100, 128), (128, None)])
def test_anchors_reject_bad_sizes(size):
    with pytest.raises(ValueError, match="divisible|static"):
        AnchorGenerator().flat_anchors(*size)


def test_box_coding_matches_reference_and_round_trips():
    rng = np.random.default_rng(0)
    boxes = random_boxes(rng, 200, 300, 400)
    anchors = random_boxes(rng, 200, 300, 400)
    codes = encode_boxes(boxes, anchors)
    np.testing.assert_allclose(
        codes, box_ops.encode_boxes(boxes, anchors).numpy(), **TOLERANCE)
    weights = [10.0, 10.0, 5.0, 5.0]
    np.testing.assert_allclose(
        encode_boxes(boxes, anchors, weights),
        box_ops.encode_boxes(boxes, anchors, weights).numpy(), **TOLERANCE)
    deltas = rng.normal(0, 1.5, (200, 4)).astype("float32")
    deltas[0, 2:] = 9.0  # beyond the log-scale clip
    np.testing.assert_allclose(
        decode_boxes(deltas, anchors),
        box_ops.decode_boxes(deltas, anchors).numpy(), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(decode_boxes(codes, anchors), boxes, atol=1e-3)


def test_pixel_inclusive_box_convention_of_the_tpu_code():
    """tensorflow/tpu's box_utils count pixels inclusively: a box
    [0, 0, 19, 9] is 20 x 10 pixels, centred at (10, 5); boxes clip to
    size - 1 (hand-computed)."""
    anchor = np.array([[0.0, 0.0, 9.0, 9.0]], "float32")  # 10 x 10, centre (5, 5)
    box = np.array([[0.0, 0.0, 19.0, 9.0]], "float32")  # 20 x 10, centre (10, 5)
    codes = np.asarray(encode_boxes(box, anchor, pixel_inclusive=True))
    np.testing.assert_allclose(codes, [[0.5, 0.0, np.log(2.0), 0.0]], atol=1e-6)
    np.testing.assert_allclose(  # the continuous convention: 19 / 9 high
        np.asarray(encode_boxes(box, anchor))[0, 2], np.log(19.0 / 9.0), atol=1e-5)
    np.testing.assert_allclose(decode_boxes(codes, anchor, pixel_inclusive=True), box,
                               atol=1e-5)
    rng = np.random.default_rng(1)
    boxes, anchors = random_boxes(rng, 50, 300, 400), random_boxes(rng, 50, 300, 400)
    np.testing.assert_allclose(
        decode_boxes(encode_boxes(boxes, anchors, [10, 10, 5, 5], pixel_inclusive=True),
                     anchors, [10, 10, 5, 5], pixel_inclusive=True), boxes, atol=1e-3)
    wide = np.array([[-5.0, -5.0, 300.0, 300.0]], "float32")
    np.testing.assert_array_equal(clip_boxes(wide, 100.0, 200.0, pixel_inclusive=True),
                                  [[0.0, 0.0, 99.0, 199.0]])
    np.testing.assert_array_equal(clip_boxes(wide, 100.0, 200.0), [[0.0, 0.0, 100.0, 200.0]])


def test_iou_matches_reference():
    rng = np.random.default_rng(1)
    a = random_boxes(rng, 50, 100, 100)
    b = np.concatenate([random_boxes(rng, 30, 100, 100), a[:3],
                        np.zeros((2, 4), "float32")])
    np.testing.assert_allclose(
        box_iou(a, b), iou_similarity.iou(a, b).numpy(), **TOLERANCE)
    np.testing.assert_allclose(np.diag(ops.convert_to_numpy(box_iou(a[:3], a[:3]))), 1.0)


def reference_labels(anchor_dict, boxes, classes, weights=None):
    labeler = anchor_ops.AnchorLabeler(0.5, 0.5)
    anchors = {k: tf.constant(v) for k, v in anchor_dict.items()}
    cls, box, _, cls_w, box_w = labeler.label_anchors(
        anchors, tf.constant(boxes), tf.constant(classes[:, None]),
        gt_weights=None if weights is None else tf.constant(weights))
    flat = lambda d, dim: np.concatenate(
        [v.numpy().reshape(-1, dim) for v in d.values()])
    return (flat(cls, 1)[:, 0], flat(box, 4), cls_w.numpy(), box_w.numpy())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_anchor_labeler_matches_reference(seed):
    rng = np.random.default_rng(seed)
    generator = AnchorGenerator(3, 6, 3, (0.5, 1.0, 2.0), 3.0)
    size = (128, 192)
    anchor_dict = generator.multilevel_anchors(*size)
    counts = [7, 3, 1]
    max_boxes = 9
    batch_boxes = np.zeros((3, max_boxes, 4), "float32")
    batch_classes = -np.ones((3, max_boxes), "int32")
    for i, count in enumerate(counts):
        batch_boxes[i, :count] = random_boxes(rng, count, *size, min_side=8)
        batch_classes[i, :count] = rng.integers(1, 10, count)
    ours = AnchorLabeler()(generator.flat_anchors(*size), batch_boxes, batch_classes)
    for i, count in enumerate(counts):
        cls, box, cls_w, box_w = reference_labels(
            anchor_dict, batch_boxes[i, :count], batch_classes[i, :count])
        np.testing.assert_array_equal(ours["class_targets"][i], cls)
        np.testing.assert_array_equal(ours["class_weights"][i], cls_w)
        np.testing.assert_array_equal(ours["box_weights"][i], box_w)
        positive = box_w > 0
        assert positive.sum() >= count  # every box got at least its best anchor
        np.testing.assert_allclose(
            ops.convert_to_numpy(ours["box_targets"][i])[positive], box[positive],
            **TOLERANCE)


def test_anchor_labeler_without_boxes_gives_all_negatives():
    anchors = AnchorGenerator(3, 4).flat_anchors(64, 64)
    for boxes, classes in ((np.zeros((2, 0, 4)), np.zeros((2, 0))),
                           (np.zeros((2, 3, 4)), -np.ones((2, 3)))):
        out = AnchorLabeler()(anchors, boxes, classes)
        assert np.all(ops.convert_to_numpy(out["class_targets"]) == -1)
        assert np.all(ops.convert_to_numpy(out["class_weights"]) == 1)
        assert not np.any(ops.convert_to_numpy(out["box_weights"]))


def test_crowd_boxes_are_ignored_not_negative():
    generator = AnchorGenerator(3, 4, 1, (1.0,), 4.0)
    anchors = generator.flat_anchors(64, 64)
    crowd_box = anchors[5]  # exactly one P3 anchor (IoU 1)
    boxes = np.stack([crowd_box, [0, 0, 30, 30]])[None].astype("float32")
    classes = np.array([[3, 1]])
    out = AnchorLabeler()(anchors, boxes, classes, is_crowd=np.array([[True, False]]))
    cls = ops.convert_to_numpy(out["class_targets"])[0]
    weights = ops.convert_to_numpy(out["class_weights"])[0]
    assert cls[5] == -1 and weights[5] == 0  # ignored
    assert 3 not in cls  # a crowd region is never a positive
    assert 1 in cls


def test_losses_match_reference():
    rng = np.random.default_rng(3)
    batch, anchors, classes = 2, 300, 6
    logits = rng.normal(0, 3, (batch, anchors, classes)).astype("float32")
    deltas = rng.normal(0, 0.3, (batch, anchors, 4)).astype("float32")
    targets = {
        "class_targets": rng.integers(-1, classes, (batch, anchors)).astype("int32"),
        "box_targets": rng.normal(0, 0.3, (batch, anchors, 4)).astype("float32"),
        "class_weights": (rng.random((batch, anchors)) > 0.1).astype("float32"),
        "box_weights": (rng.random((batch, anchors)) > 0.7).astype("float32"),
    }
    ours = RetinaNetLoss(classes)(logits, deltas, targets)

    # tf-models-official's RetinaNetTask.build_losses, step by step.
    import tf_keras
    normalizer = targets["box_weights"].sum() + 1.0
    cls_loss = focal_loss.FocalLoss(0.25, 1.5, reduction=tf_keras.losses.Reduction.SUM)(
        tf.one_hot(targets["class_targets"], classes), logits,
        sample_weight=targets["class_weights"] / normalizer)
    box_loss = tf_keras.losses.Huber(0.1, reduction=tf_keras.losses.Reduction.SUM)(
        targets["box_targets"], deltas, sample_weight=targets["box_weights"] / normalizer)
    np.testing.assert_allclose(ours["class_loss"], cls_loss.numpy(), rtol=1e-5)
    np.testing.assert_allclose(ours["box_loss"], box_loss.numpy(), rtol=1e-5)
    np.testing.assert_allclose(
        ours["total_loss"], cls_loss.numpy() + 50 * box_loss.numpy(), rtol=1e-5)


def test_flatten_multilevel_follows_anchor_order():
    maps = {"P4": np.full((1, 2, 2, 8), 4.0), "P3": np.full((1, 4, 4, 8), 3.0)}
    flat = ops.convert_to_numpy(flatten_multilevel(maps, 4))
    assert flat.shape == (1, 4 * 4 * 2 + 2 * 2 * 2, 4)
    assert np.all(flat[0, :32] == 3) and np.all(flat[0, 32:] == 4)


def reference_detections(class_logits, box_deltas, anchor_dict, image_size,
                         nms_version):
    from official.vision.modeling.layers import detection_generator

    generator = detection_generator.MultilevelDetectionGenerator(
        nms_version=nms_version, pre_nms_top_k=5000, pre_nms_score_threshold=0.05,
        nms_iou_threshold=0.5, max_num_detections=100)
    batch = next(iter(class_logits.values())).shape[0]
    anchors = {k[1:]: tf.tile(v[None], [batch, 1, 1, 1]) for k, v in anchor_dict.items()}
    return generator(
        {k[1:]: tf.constant(v) for k, v in box_deltas.items()},
        {k[1:]: tf.constant(v) for k, v in class_logits.items()},
        anchors, tf.constant([image_size] * batch, tf.float32))


@pytest.mark.parametrize("nms_version", ["v2", "batched"])
def test_detection_generator_matches_reference(nms_version):
    rng = np.random.default_rng(4)
    size = (128, 128)
    generator = AnchorGenerator(3, 5)
    anchor_dict = generator.multilevel_anchors(*size)
    num_classes = 4
    class_logits = {k: rng.normal(-3, 2, v.shape[:2] + (9 * num_classes,))[None]
                    .repeat(2, 0).astype("float32") for k, v in anchor_dict.items()}
    box_deltas = {k: rng.normal(0, 0.5, v.shape[:2] + (36,))[None]
                  .repeat(2, 0).astype("float32") for k, v in anchor_dict.items()}
    ours = MultilevelDetectionGenerator()(class_logits, box_deltas,
                              generator.flat_anchors(*size), image_size=size)
    theirs = reference_detections(class_logits, box_deltas, anchor_dict, size,
                                  nms_version)
    np.testing.assert_array_equal(ours["num_detections"], theirs["num_detections"])
    for b in range(2):
        n = int(ours["num_detections"][b])
        assert n > 10
        np.testing.assert_allclose(ours["detection_scores"][b, :n],
                                   theirs["detection_scores"][b, :n], rtol=1e-5)
        np.testing.assert_allclose(ours["detection_boxes"][b, :n],
                                   theirs["detection_boxes"][b, :n], rtol=1e-5, atol=1e-3)
        np.testing.assert_array_equal(ours["detection_classes"][b, :n],
                                      theirs["detection_classes"][b, :n])
        # Sorted scores, padding zero, boxes inside the image, no background.
        scores = ops.convert_to_numpy(ours["detection_scores"][b])
        assert np.all(np.diff(scores[:n]) <= 0) and not np.any(scores[n:])
        boxes = ops.convert_to_numpy(ours["detection_boxes"][b, :n])
        assert boxes.min() >= 0 and boxes[:, 2].max() <= 128 and boxes[:, 3].max() <= 128
        assert ops.convert_to_numpy(ours["detection_classes"][b, :n]).min() >= 1
