"""The Mask R-CNN network against tf-models-official's, built by its own
factory (`build_maskrcnn`) with the same settings: parameter counts of the
published recipes, and after weight transfer the same RPN outputs, box-head
outputs on the same proposals, detections and masks.

Expected counts were taken once with tf-models-official 2.20
(`factory.build_maskrcnn` on `maskrcnn_spinenet_coco`; issue 22), never
from the code under test.
"""

import keras
import numpy as np
import pytest

from spinenet_tf.models.maskrcnn import MaskRCNN

pytest.importorskip("official")
import tf_keras  # noqa: E402
from support import (  # noqa: E402
    assert_same_instances, assert_same_rows_in_any_order, randomize_batch_norm,
    two_stage_training_pass)

from spinenet_tf.rcnn.model_garden_twin import (  # noqa: E402
    build_model_garden_two_stage_detector,
    transfer_model_garden_two_stage_weights,
)

pytestmark = pytest.mark.reference  # CI: the TensorFlow 2.20 environment

# 91 classes, the recipe's anchors (one scale, aspect ratios 0.5, 1, 2) and heads.
MODEL_GARDEN_PARAMETERS = {"spinenet-49": 40_851_441, "spinenet-96": 55_316_977,
                           "spinenet-143": 79_345_137}


@pytest.mark.parametrize("name", sorted(MODEL_GARDEN_PARAMETERS))
def test_recipe_has_model_garden_parameter_count(name):
    # Parameters do not depend on the input size; 128 builds fastest.
    model = MaskRCNN.from_variant(name, num_classes=91, image_size=128)
    assert model.count_params() == MODEL_GARDEN_PARAMETERS[name]


def _transferred_pair(seed, **kwargs):
    """A small Mask R-CNN of ours and its Model Garden twin, the twin's
    random weights (heads' predictors and batch norms included) copied
    into ours; and the random generator that made them."""
    keras.utils.set_random_seed(seed)
    tf_keras.utils.set_random_seed(seed)
    options = dict(
        num_classes=4, image_size=128, activation="swish",
        rpn_num_filters=16, box_num_convs=1, box_num_filters=16, box_fc_dims=32,
        mask_num_convs=1, mask_num_filters=16,
        test_proposals=dict(pre_nms_top_k=300, num_proposals=100), max_detections=20,
        pre_nms_score_threshold=0.001)
    options.update(kwargs)
    ours = MaskRCNN.from_variant("spinenet-mobile-49xs", **options)
    reference = build_model_garden_two_stage_detector(ours)
    assert reference.count_params() == ours.count_params()
    rng = np.random.default_rng(seed)
    for weight in reference.weights:  # predictors and biases too, not their zeros
        if any(part in weight.name for part in ("rpn", "detection", "mask")) and not any(
                part in weight.name for part in ("moving", "gamma")):
            weight.assign(rng.normal(0, 0.1, weight.shape).astype("float32"))
    randomize_batch_norm(reference, 1)
    for weight in reference.weights:
        # Heads' batch norms that amplify: the small random features of the
        # backbone would otherwise give every ROI nearly the same scores.
        if any(part in weight.name for part in ("rpn", "detection", "mask")) and (
                "moving_variance" in weight.name):
            weight.assign(rng.uniform(0.01, 0.05, weight.shape).astype("float32"))
    transfer_model_garden_two_stage_weights(reference, ours)
    return ours, reference, rng


@pytest.mark.slow
def test_transferred_model_gives_model_garden_outputs(seed=0):
    """Raw outputs within 1e-5 (box head: 1e-4 relative, ROIs matched); detections and their masks equal, except
    that with random weights some detections of one class tie in score
    (within 1e-6), and which of two tied boxes greedy NMS keeps first is
    implementation-defined: such rows may be ordered or chosen differently."""
    ours, reference, rng = _transferred_pair(seed)
    images = rng.uniform(-2, 2, (2, 128, 128, 3)).astype("float32")
    image_shape = np.array([[128, 128], [112, 96]], "float32")
    theirs = reference(images, image_shape, training=False)
    outputs = ours(images, image_shape)
    for level in range(3, 8):
        for ours_key, their_key in (("rpn_scores", "rpn_scores"), ("rpn_boxes", "rpn_boxes")):
            np.testing.assert_allclose(outputs[ours_key][f"P{level}"],
                                       theirs[their_key][str(level)], atol=1e-5)
    # The box head on the same proposals: tied RPN scores (features repeat
    # along the border) may order the proposals differently, so each ROI's
    # outputs are matched, not compared by position.
    for b in range(2):
        assert_same_rows_in_any_order(
            np.concatenate([outputs["class_logits"][b], outputs["box_deltas"][b]], -1),
            np.concatenate([theirs["cls_outputs"][b], theirs["box_outputs"][b]], -1))
    assert int(np.sum(np.asarray(outputs["num_detections"]))) > 10
    matched = assert_same_instances(outputs, theirs)
    assert matched >= 0.9 * int(np.sum(np.asarray(outputs["num_detections"])))


@pytest.mark.slow
def test_maskrcnn_config_round_trip_and_errors():
    # A RetinaNet built first: Keras rewrites the bases of a functionally
    # built model's classes, which must leave MaskRCNN's alone.
    from support import tiny_detector

    tiny_detector()
    model = MaskRCNN.from_variant(
        "spinenet-mobile-49xs", num_classes=3, image_size=128, rpn_num_filters=8,
        box_num_convs=0, box_fc_dims=8, mask_num_convs=0, mask_num_filters=8)
    clone = MaskRCNN.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    assert clone.count_params() == model.count_params()
    images = np.zeros((1, 128, 128, 3), "float32")
    outputs = clone(images)
    assert outputs["detection_masks"].shape == (1, 100, 28, 28)
    with pytest.raises(ValueError, match="trains on a dict of `images`.*received a"):
        model(images, training=True)
    with pytest.raises(ValueError, match="missing \\['masks'\\]"):
        model(dict(images=images, boxes=np.zeros((1, 1, 4)), classes=np.ones((1, 1))),
              training=True)


@pytest.mark.slow
def test_training_outputs_and_losses_equal_model_garden(seed=1):
    """One training forward pass (batch statistics) of ours and of Model
    Garden's twin on the same images and ground truth: the sampled ROIs and
    their targets, the box head's outputs, the mask targets and mask logits,
    and the box and mask losses. The ROI draw takes every row (100
    proposals + 3 boxes = 103 samples), so both sides sample the same ROIs;
    the boxes are made near proposals, so that many ROIs are foreground."""
    ours, reference, rng = _transferred_pair(
        seed, train_proposals=dict(pre_nms_top_k=300, num_proposals=100),
        sampling=dict(roi_samples_per_image=103, roi_foreground_fraction=1.0,
                      mask_samples_per_image=12, seed=0))
    outputs, theirs, boxes = two_stage_training_pass(ours, reference, rng)
    # ROIs are decoded from RPN codes equal within 1e-5, so they agree
    # within float rounding of box arithmetic on 100-pixel boxes; the mask
    # targets sampled in them as closely.
    tolerances = {"class_targets": ("class_targets", 0),
                  "box_targets": ("box_targets", 1e-4), "class_logits": ("class_outputs", 1e-4),
                  "box_deltas": ("box_outputs", 1e-4), "mask_targets": ("mask_targets", 2e-3),
                  "mask_classes": ("mask_class_targets", 0),
                  "mask_logits": ("mask_outputs", 1e-4)}
    for key, (their_key, tolerance) in tolerances.items():
        np.testing.assert_allclose(np.asarray(outputs[key]), np.asarray(theirs[their_key]),
                                   rtol=tolerance, atol=tolerance, err_msg=key)
    assert (np.asarray(outputs["class_targets"])[:, :100] > 0).sum() >= 6
    assert np.abs(np.asarray(outputs["box_targets"])).max() > 0.5
    losses = ours.detection_loss(outputs, ours.level_sizes(128, 128))
    from official.vision.losses import maskrcnn_losses

    theirs_losses = {
        "frcnn_class_loss": maskrcnn_losses.FastrcnnClassLoss()(
            theirs["class_outputs"], theirs["class_targets"]),
        "frcnn_box_loss": maskrcnn_losses.FastrcnnBoxLoss(1.0)(
            theirs["box_outputs"], theirs["class_targets"], theirs["box_targets"]),
        "mask_loss": maskrcnn_losses.MaskrcnnLoss()(
            theirs["mask_outputs"], theirs["mask_targets"], theirs["mask_class_targets"]),
    }
    for term, value in theirs_losses.items():
        np.testing.assert_allclose(float(losses[term]), float(value), rtol=1e-4, err_msg=term)
