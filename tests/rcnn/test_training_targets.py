"""Mask R-CNN's training targets and losses against tf-models-official's
(`RpnAnchorLabeler`, `ROISampler`, `MaskSampler`, `maskrcnn_losses`) on the
same inputs.

The reference draws anchors and ROIs with its own random shuffles, so
exact equality is checked where the draw takes every candidate (fewer
candidates than samples) and, elsewhere, what the draw must keep: the
counts, that every drawn example is of its kind, and the targets of each
drawn example.
"""

import numpy as np
import pytest
import tensorflow as tf

from spinenet_tf.ops.anchor_generator import AnchorGenerator
from spinenet_tf.rcnn.mask_sampler import MaskSampler
from spinenet_tf.rcnn.rcnn_losses import RCNNLoss
from spinenet_tf.rcnn.roi_sampler import ROISampler
from spinenet_tf.rcnn.rpn_labeler import RPNLabeler

pytest.importorskip("official")
from official.vision.losses import maskrcnn_losses  # noqa: E402
from official.vision.modeling.layers import mask_sampler as reference_mask_sampler  # noqa: E402
from official.vision.modeling.layers import roi_sampler as reference_roi_sampler  # noqa: E402
from official.vision.ops import anchor as reference_anchor  # noqa: E402

pytestmark = pytest.mark.reference  # CI: the TensorFlow 2.20 environment


def ground_truth(rng, batch, count, valid, extent):
    """Padded boxes (-1) and classes (-1) with `valid[b]` real boxes."""
    boxes = -np.ones((batch, count, 4), "float32")
    classes = -np.ones((batch, count), "int32")
    for b in range(batch):
        top, left = rng.uniform(0, extent * 0.7, (2, valid[b]))
        height, width = rng.uniform(extent * 0.05, extent * 0.5, (2, valid[b]))
        boxes[b, :valid[b]] = np.stack([top, left, top + height, left + width], -1)
        classes[b, :valid[b]] = rng.integers(1, 5, valid[b])
    return boxes, classes


def reference_rpn_targets(size, levels, boxes, classes):
    """Model Garden's per-image RPN targets, flattened in anchor order."""
    anchors = reference_anchor.Anchor(levels[0], levels[-1], 1, [0.5, 1.0, 2.0], 3.0,
                                      (size, size))
    labeler = reference_anchor.RpnAnchorLabeler(0.7, 0.3, 256, 0.5)
    scores, codes, indicators = [], [], []
    for b in range(boxes.shape[0]):
        valid = classes[b] >= 0
        score, box = labeler.label_anchors(anchors.multilevel_boxes,
                                           tf.constant(boxes[b][valid]),
                                           tf.constant(classes[b][valid][:, None]))
        scores.append(np.concatenate([np.reshape(score[str(l)], -1) for l in levels]))
        codes.append(np.concatenate([np.reshape(box[str(l)], (-1, 4)) for l in levels]))
        flat = tf.concat([tf.reshape(a, (-1, 4)) for a in anchors.multilevel_boxes.values()], 0)
        _, indicator = labeler.matcher(labeler.similarity_calc(
            flat, tf.constant(boxes[b][valid])))
        indicators.append(np.asarray(indicator))
    return np.stack(scores), np.stack(codes), np.stack(indicators)


@pytest.mark.parametrize("size,levels", [(32, (3, 4, 5)), (128, (3, 4, 5, 6, 7))])
def test_rpn_labeler_matches_model_garden(size, levels):
    """32 px: 63 anchors, all drawn, equal to the reference; 128 px: 1023
    anchors, a random draw of the reference's matches."""
    rng = np.random.default_rng(size)
    boxes, classes = ground_truth(rng, 3, 6, [4, 1, 6], size)
    anchors = AnchorGenerator(levels[0], levels[-1], 1, (0.5, 1.0, 2.0), 3.0).flat_anchors(
        size, size)
    scores, codes = RPNLabeler(seed=0)(anchors, boxes, classes)
    scores, codes = np.asarray(scores), np.asarray(codes)
    their_scores, their_codes, indicators = reference_rpn_targets(size, levels, boxes, classes)
    np.testing.assert_allclose(codes, their_codes, atol=1e-5)  # every positive's code
    if size == 32:
        np.testing.assert_array_equal(scores, their_scores)
        return
    for b in range(3):
        positives, negatives = indicators[b] == 1, indicators[b] == -1
        drawn_positive = min(128, positives.sum())
        assert (scores[b] == 1).sum() == drawn_positive
        assert (scores[b] == 0).sum() == min(256 - drawn_positive, negatives.sum())
        assert positives[scores[b] == 1].all() and negatives[scores[b] == 0].all()
        assert (scores[b] == 1).sum() == (their_scores[b] == 1).sum()
        assert (scores[b] == 0).sum() == (their_scores[b] == 0).sum()


def test_rpn_labeler_draws_uniformly():
    """Over many draws (the images of one batch, each its own draw) every
    positive anchor is drawn about equally often; the next call draws anew."""
    anchors = AnchorGenerator(3, 5, 1, (0.5, 1.0, 2.0), 3.0).flat_anchors(64, 64)
    draws = 400
    boxes = np.repeat(np.array([[[0, 0, 64, 64], [8, 8, 40, 40]]], "float32"), draws, 0)
    classes = np.repeat(np.array([[1, 2]]), draws, 0)
    labeler = RPNLabeler(0.3, 0.1, samples_per_image=8, positive_fraction=0.5, seed=3)
    positives = np.asarray(labeler(anchors, boxes, classes)[0]) == 1
    assert len({row.tobytes() for row in positives}) > draws * 0.9  # independent draws
    counts = positives.sum(0)
    drawn = counts[counts > 0]
    assert len(drawn) > 4  # more positives than the quota of 4
    assert drawn.sum() == draws * 4
    # Binomial counts: within 4.5 standard deviations of the mean.
    assert np.abs(drawn - drawn.mean()).max() < 4.5 * np.sqrt(drawn.mean())
    again = np.asarray(labeler(anchors, boxes[:8], classes[:8])[0]) == 1
    assert not np.array_equal(again, positives[:8])


def proposals_for(rng, boxes, count, size):
    """Proposals: jittered copies of the boxes (foreground) and random boxes."""
    batch = boxes.shape[0]
    jittered = boxes[:, rng.integers(0, boxes.shape[1], count // 2)] + rng.normal(
        0, size * 0.03, (batch, count // 2, 4))
    top, left = rng.uniform(0, size * 0.8, (2, batch, count - count // 2))
    side = rng.uniform(size * 0.05, size * 0.4, (batch, count - count // 2))
    random_boxes = np.stack([top, left, top + side, left + side], -1)
    proposals = np.concatenate([jittered, random_boxes], 1).astype("float32")
    proposals[:, -3:] = 0.0  # padding proposals, as the generator pads
    return np.where(boxes[:, :1, :1] < 0, proposals, np.abs(proposals))


@pytest.mark.parametrize("num_samples,fraction", [(46, 0.75), (32, 0.25)])
def test_roi_sampler_matches_model_garden(num_samples, fraction):
    """46 samples of 46 rows (40 proposals and 6 boxes, padding included),
    the foreground within its quota: all drawn, equal to the reference; 32
    with a quarter foreground: a random draw with the reference's targets."""
    rng = np.random.default_rng(num_samples)
    boxes, classes = ground_truth(rng, 2, 6, [5, 2], 128)
    proposals = proposals_for(rng, np.maximum(boxes, 0), 40, 128)
    ours = ROISampler(num_samples, fraction, seed=0)(proposals, boxes, classes)
    ours = {k: np.asarray(v) for k, v in ours.items()}
    if num_samples == 46:
        assert (ours["matched_classes"] > 0).sum(-1).max() <= 34
        reference = reference_roi_sampler.ROISampler(
            num_sampled_rois=num_samples, foreground_fraction=fraction)
        theirs = reference(tf.constant(proposals), tf.constant(boxes), tf.constant(classes))
        for key, value in zip(("rois", "matched_boxes", "matched_classes", "matched_indices"),
                              theirs):
            np.testing.assert_allclose(ours[key], np.asarray(value), atol=1e-6, err_msg=key)
        return
    every = reference_roi_sampler.ROISampler(skip_subsampling=True)(
        tf.constant(proposals), tf.constant(boxes), tf.constant(classes))
    candidates, their_boxes, their_classes, their_indices = (np.asarray(v) for v in every)
    for b in range(2):
        foreground = (their_classes[b] > 0).sum()
        assert (ours["matched_classes"][b] > 0).sum() == min(foreground, int(32 * fraction))
        for roi, box, cls, index in zip(ours["rois"][b], ours["matched_boxes"][b],
                                        ours["matched_classes"][b],
                                        ours["matched_indices"][b]):
            row = np.flatnonzero((candidates[b] == roi).all(-1))[0]
            assert (cls, index) == (their_classes[b, row], their_indices[b, row])
            np.testing.assert_allclose(box, their_boxes[b, row])


def test_roi_sampler_without_ground_truth_gives_background():
    proposals = proposals_for(np.random.default_rng(1), np.zeros((1, 1, 4)), 40, 128)
    boxes, classes = -np.ones((1, 3, 4), "float32"), -np.ones((1, 3), "int32")
    ours = ROISampler(16, 0.25, seed=0)(proposals, boxes, classes)
    np.testing.assert_array_equal(np.asarray(ours["matched_classes"]), 0)
    np.testing.assert_array_equal(np.asarray(ours["matched_indices"]), -1)


def test_mask_sampler_matches_model_garden():
    rng = np.random.default_rng(5)
    boxes, classes = ground_truth(rng, 2, 4, [4, 3], 128)
    proposals = proposals_for(rng, np.maximum(boxes, 0), 40, 128)
    sampled = ROISampler(44, 0.5, seed=0)(proposals, boxes, classes)
    masks = rng.uniform(0, 1, (2, 4, 32, 32)).astype("float32")
    rois, mask_classes, targets = MaskSampler(num_samples=6, target_size=28)(sampled, masks)
    theirs = reference_mask_sampler.MaskSampler(28, 6)(
        *(tf.constant(np.asarray(sampled[k])) for k in (
            "rois", "matched_boxes", "matched_classes", "matched_indices")),
        tf.constant(masks))
    np.testing.assert_allclose(np.asarray(rois), np.asarray(theirs[0]), atol=1e-6)
    np.testing.assert_array_equal(np.asarray(mask_classes), np.asarray(theirs[1]))
    np.testing.assert_allclose(np.asarray(targets), np.asarray(theirs[2]), atol=1e-5)
    assert (np.asarray(mask_classes) > 0).all()  # enough foreground for 6 each


def test_losses_match_model_garden():
    rng = np.random.default_rng(7)
    batch, levels = 2, {3: 8, 4: 4, 5: 2}
    shapes = {l: (batch, s, s, 3) for l, s in levels.items()}
    score_logits = {l: rng.normal(size=s).astype("float32") for l, s in shapes.items()}
    score_targets = {l: rng.integers(-1, 2, s).astype("int32") for l, s in shapes.items()}
    box_deltas = {l: rng.normal(size=s[:3] + (12,)).astype("float32") for l, s in shapes.items()}
    box_targets = {l: (rng.normal(size=s[:3] + (12,)) * np.repeat(
        score_targets[l] == 1, 4, -1)).astype("float32") for l, s in shapes.items()}
    class_logits = rng.normal(size=(batch, 16, 5)).astype("float32")
    class_targets = rng.integers(0, 5, (batch, 16)).astype("int32")
    frcnn_deltas = rng.normal(size=(batch, 16, 20)).astype("float32")
    frcnn_targets = rng.normal(size=(batch, 16, 4)).astype("float32")
    mask_logits = rng.normal(size=(batch, 6, 28, 28)).astype("float32")
    mask_targets = rng.uniform(size=(batch, 6, 28, 28)).astype("float32")
    mask_classes = rng.integers(0, 3, (batch, 6)).astype("int32")

    def flat(maps, last):
        return np.concatenate([maps[l].reshape(batch, -1, last) for l in sorted(maps)], 1)

    ours = RCNNLoss()(dict(
        rpn_score_logits=flat(score_logits, 1)[..., 0],
        rpn_score_targets=flat(score_targets, 1)[..., 0],
        rpn_box_deltas=flat(box_deltas, 4), rpn_box_targets=flat(box_targets, 4),
        class_logits=class_logits, class_targets=class_targets, box_deltas=frcnn_deltas,
        box_targets=frcnn_targets, mask_logits=mask_logits, mask_targets=mask_targets,
        mask_classes=mask_classes), [s * s * 3 for s in levels.values()])
    as_tf = {str(l): tf.constant(v) for l, v in score_logits.items()}
    theirs = {
        "rpn_score_loss": maskrcnn_losses.RpnScoreLoss(256)(
            as_tf, {str(l): tf.constant(v) for l, v in score_targets.items()}),
        "rpn_box_loss": maskrcnn_losses.RpnBoxLoss(1 / 9)(
            {str(l): tf.constant(v) for l, v in box_deltas.items()},
            {str(l): tf.constant(v) for l, v in box_targets.items()}),
        "frcnn_class_loss": maskrcnn_losses.FastrcnnClassLoss()(
            tf.constant(class_logits), tf.constant(class_targets)),
        "frcnn_box_loss": maskrcnn_losses.FastrcnnBoxLoss(1.0)(
            tf.constant(frcnn_deltas), tf.constant(class_targets), tf.constant(frcnn_targets)),
        "mask_loss": maskrcnn_losses.MaskrcnnLoss()(
            tf.constant(mask_logits), tf.constant(mask_targets), tf.constant(mask_classes)),
    }
    for term, value in theirs.items():
        np.testing.assert_allclose(float(ours[term]), float(value), rtol=1e-5, err_msg=term)
    np.testing.assert_allclose(float(ours["total_loss"]), sum(float(v) for v in theirs.values()),
                               rtol=1e-5)
