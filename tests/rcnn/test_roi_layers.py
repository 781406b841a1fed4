"""Proposal generation and ROI align against tf-models-official's
(`MultilevelROIGenerator`, `multilevel_crop_and_resize`) on the same
random inputs: equal outputs."""

import numpy as np
import pytest
import tensorflow as tf

from spinenet_tf.ops.anchor_generator import AnchorGenerator
from spinenet_tf.rcnn.roi_aligner import MultilevelROIAligner
from spinenet_tf.rcnn.roi_generator import MultilevelROIGenerator, ProposalSettings

pytest.importorskip("official")
from official.vision.modeling.layers import roi_generator as reference_roi_generator  # noqa: E402
from official.vision.ops import anchor as reference_anchor  # noqa: E402
from official.vision.ops import spatial_transform_ops  # noqa: E402

pytestmark = pytest.mark.reference  # CI: the TensorFlow 2.20 environment

SIZE = 128
LEVELS = range(3, 8)


def random_boxes(rng, batch, count, extent):
    """Boxes of every size, some past the image edges, some empty (padding)."""
    top = rng.uniform(-20, extent, (batch, count))
    left = rng.uniform(-20, extent, (batch, count))
    height = np.exp(rng.uniform(0, np.log(2 * extent), (batch, count)))
    width = np.exp(rng.uniform(0, np.log(2 * extent), (batch, count)))
    boxes = np.stack([top, left, top + height, left + width], -1).astype("float32")
    boxes[0, :3] = 0.0
    return boxes


@pytest.mark.parametrize("crop_size,sample_offset", [(7, 0.5), (14, 0.5), (4, 0.25)])
def test_roi_align_equals_model_garden(crop_size, sample_offset):
    rng = np.random.default_rng(0)
    features = {level: rng.normal(size=(2, SIZE >> level, SIZE >> level, 5)).astype("float32")
                for level in LEVELS}
    boxes = random_boxes(rng, 2, 60, 4 * SIZE)
    theirs = spatial_transform_ops.multilevel_crop_and_resize(
        {str(k): tf.constant(v) for k, v in features.items()}, tf.constant(boxes),
        output_size=crop_size, sample_offset=sample_offset)
    ours = MultilevelROIAligner(crop_size, sample_offset)(
        {f"P{k}": v for k, v in features.items()}, boxes)
    assert ours.shape == (2, 60, crop_size, crop_size, 5)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=0, atol=1e-6)


def test_roi_align_assigns_levels_by_the_fpn_rule():
    aligner = MultilevelROIAligner()
    sides = np.array([[0.0, 10.0, 112.0, 223.0, 224.0, 447.0, 448.0, 5000.0]], "float32")
    boxes = np.stack([np.zeros_like(sides), np.zeros_like(sides), sides, sides], -1)
    levels = np.asarray(aligner.box_levels(boxes, 3, 7))
    np.testing.assert_array_equal(levels, [[3, 3, 3, 3, 4, 4, 5, 7]])


def test_roi_align_rejects_missing_levels():
    features = {"P3": np.zeros((1, 16, 16, 2), "float32"),
                "P5": np.zeros((1, 4, 4, 2), "float32")}
    with pytest.raises(ValueError, match="consecutive levels; received \\['P3', 'P5'\\]"):
        MultilevelROIAligner()(features, np.zeros((1, 2, 4), "float32"))


@pytest.mark.parametrize("settings", [
    dict(pre_nms_top_k=200, num_proposals=100),
    dict(pre_nms_top_k=50, num_proposals=300, pre_nms_min_size_threshold=4.0,
         pre_nms_score_threshold=0.3),
    dict(nms_iou_threshold=0.0, num_proposals=64),
])
@pytest.mark.parametrize("training", [False, True])
def test_proposals_equal_model_garden(settings, training):
    rng = np.random.default_rng(1)
    scores = {k: rng.normal(0, 2, (2, SIZE >> k, SIZE >> k, 3)).astype("float32") for k in LEVELS}
    codes = {k: rng.normal(0, 0.5, (2, SIZE >> k, SIZE >> k, 12)).astype("float32")
             for k in LEVELS}
    image_shape = np.array([[SIZE, SIZE], [100, 90]], "float32")
    ours_anchors = AnchorGenerator(3, 7, 1, (0.5, 1.0, 2.0), 3.0).multilevel_anchors(SIZE, SIZE)
    their_anchors = reference_anchor.build_anchor_generator(3, 7, 1, [0.5, 1.0, 2.0], 3.0)(
        (SIZE, SIZE))
    prefix = "" if training else "test_"
    theirs = reference_roi_generator.MultilevelROIGenerator(
        **{prefix + name: value for name, value in settings.items()})
    their_boxes, their_scores = theirs(
        {str(k): tf.constant(v) for k, v in codes.items()},
        {str(k): tf.constant(v) for k, v in scores.items()},
        {str(k): tf.repeat(their_anchors[str(k)][None], 2, axis=0) for k in LEVELS},
        image_shape, training=training)
    ours = MultilevelROIGenerator(**{"train" if training else "test": ProposalSettings(**settings)})
    boxes, our_scores = ours({f"P{k}": v for k, v in scores.items()},
                             {f"P{k}": v for k, v in codes.items()}, ours_anchors, image_shape,
                             training=training)
    assert int(np.sum(np.asarray(our_scores) > 0)) > 0
    np.testing.assert_allclose(np.asarray(boxes), np.asarray(their_boxes), atol=1e-4)
    np.testing.assert_allclose(np.asarray(our_scores), np.asarray(their_scores), atol=1e-6)


def test_proposal_generator_config_round_trips_and_checks_settings():
    layer = MultilevelROIGenerator(train={"pre_nms_top_k": 10, "num_proposals": 5})
    clone = MultilevelROIGenerator.from_config(layer.get_config())
    assert clone.train_settings == ProposalSettings(pre_nms_top_k=10, num_proposals=5)
    assert clone.test_settings == layer.test_settings
    with pytest.raises(ValueError, match="`num_proposals` must be >= 1; received 0"):
        ProposalSettings(num_proposals=0)
    with pytest.raises(ValueError, match="ProposalSettings or a dict; received 3"):
        MultilevelROIGenerator(test=3)
