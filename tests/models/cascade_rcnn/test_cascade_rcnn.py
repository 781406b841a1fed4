"""Cascade R-CNN against tf-models-official's Cascade RCNN-RS, built by its
own factory (`build_maskrcnn` with `cascade_iou_thresholds`): parameter
counts of the registered experiment and of each yaml's recipe, and after
weight transfer every stage's box-head outputs, the ensembled class scores,
the detections and masks, each stage's training targets and the losses.

Expected counts were taken once with tf-models-official 2.20's factory
(`cascadercnn_spinenet_coco`, and its settings changed to each yaml's),
never from the code under test.
"""

import dataclasses

import keras
import numpy as np
import pytest

from spinenet_tf import registry
from spinenet_tf.models.base.two_stage_detector import STAGE_BOX_CODER_WEIGHTS
from spinenet_tf.models.cascade_rcnn import CascadeRCNN

pytest.importorskip("official")
import tf_keras  # noqa: E402
from official.vision.losses import maskrcnn_losses  # noqa: E402
from support import (  # noqa: E402
    assert_same_instances, assert_same_rows_in_any_order, randomize_batch_norm,
    two_stage_training_pass)

from spinenet_tf.rcnn.model_garden_twin import (  # noqa: E402
    build_model_garden_two_stage_detector, transfer_model_garden_two_stage_weights)

pytestmark = pytest.mark.reference  # CI: the TensorFlow 2.20 environment

# tf-models-official 2.20's `cascadercnn_spinenet_coco` (SpineNet-49, three
# stages, class-agnostic boxes, masks): the figure, counted with it.
REGISTERED_EXPERIMENT_PARAMETERS = 71_106_375
# The yamls' recipes (two stages, 3 anchor scales, 2-conv RPN): MODEL_GARDEN.md's
# 56.4 M / 70.8 M / 94.9 M, counted with the factory on each yaml's settings.
YAML_PARAMETERS = {"cascade-rcnn-spinenet-49": 56_397_318,
                   "cascade-rcnn-spinenet-96": 70_862_854,
                   "cascade-rcnn-spinenet-143": 94_891_014}


def test_registered_experiment_has_model_garden_parameter_count():
    # Parameters do not depend on the input size; 128 builds fastest.
    model = CascadeRCNN.from_variant("spinenet-49", 91, image_size=128)
    assert model.num_stages == 3 and model.count_params() == REGISTERED_EXPERIMENT_PARAMETERS
    config = model.get_config()
    assert config["cascade_iou_thresholds"] == (0.6, 0.7) and config["class_ensemble"]
    assert config["class_agnostic_boxes"] and config["activation"] == "swish"


@pytest.mark.parametrize("name", ["cascade-rcnn-spinenet-49", "cascade-rcnn-spinenet-96"])
def test_yaml_recipes_have_model_garden_parameter_counts(name):
    """The catalog's recipes (143's count is the summary's: a minute to build)."""
    preset = registry.get_preset(name)
    assert not preset.loadable and preset.url is None  # no checkpoint was released
    model = dataclasses.replace(preset.model, image_size=[128, 128]).build()
    assert model.num_stages == 2 and model.count_params() == YAML_PARAMETERS[name]
    assert registry.get_family("cascade_rcnn").paper_models[
        preset.variant].reference_params == YAML_PARAMETERS[name]


def _transferred_pair(seed, **kwargs):
    """A small Cascade R-CNN of ours (three stages) and its Model Garden
    twin, the twin's random weights copied into ours; and the generator."""
    keras.utils.set_random_seed(seed)
    tf_keras.utils.set_random_seed(seed)
    options = dict(
        image_size=128, rpn_num_filters=16, box_num_convs=1, box_num_filters=16,
        box_fc_dims=32, mask_num_convs=1, mask_num_filters=16,
        test_proposals=dict(pre_nms_top_k=300, num_proposals=100), max_detections=20,
        pre_nms_score_threshold=0.001)
    options.update(kwargs)
    ours = CascadeRCNN.from_variant("spinenet-mobile-49xs", 4, **options)
    reference = build_model_garden_two_stage_detector(ours)
    assert len(reference.detection_head) == ours.num_stages == 3
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


def _stage_key(name, stage):
    return f"{name}_{stage}" if stage else name


@pytest.mark.slow
def test_transferred_model_gives_model_garden_outputs(seed=0):
    """Every stage's box-head outputs on its refined ROIs (matched row by
    row: tied RPN scores may order proposals otherwise), the class scores
    ensembled over the stages, and the detections and masks (tie rule of
    `assert_same_instances`)."""
    ours, reference, rng = _transferred_pair(seed)
    images = rng.uniform(-2, 2, (2, 128, 128, 3)).astype("float32")
    image_shape = np.array([[128, 128], [112, 96]], "float32")
    theirs = reference(images, image_shape, training=False)
    outputs = ours(images, image_shape)
    for stage in range(3):
        for b in range(2):
            ours_rows = [outputs["stage_class_logits"][stage][b]]
            their_rows = [theirs[_stage_key("class_outputs", stage)][b]]
            if stage:  # Model Garden's `box_outputs` ends as the last stage's
                ours_rows.append(outputs["stage_box_deltas"][stage][b])
                their_rows.append(theirs[_stage_key("box_outputs", stage)][b])
            assert_same_rows_in_any_order(np.concatenate(ours_rows, -1),
                                          np.concatenate(their_rows, -1))
    for b in range(2):
        assert_same_rows_in_any_order(  # the ensemble and the last stage's boxes
            np.concatenate([outputs["class_logits"][b], outputs["box_deltas"][b]], -1),
            np.concatenate([theirs["cls_outputs"][b], theirs["box_outputs"][b]], -1))
    ensemble = np.mean(np.stack([np.asarray(x) for x in outputs["stage_class_logits"]]), 0)
    np.testing.assert_allclose(outputs["class_logits"], ensemble, atol=1e-6)
    assert int(np.sum(np.asarray(outputs["num_detections"]))) > 10
    matched = assert_same_instances(outputs, theirs)
    assert matched >= 0.9 * int(np.sum(np.asarray(outputs["num_detections"])))


@pytest.mark.slow
def test_training_targets_and_losses_equal_model_garden(seed=1):
    """One training forward pass of ours and of the twin on the same images
    and ground truth: each stage's sampled (first) or relabelled (later)
    ROIs, class and box targets and box-head outputs; the mask targets and
    logits on the last stage's ROIs; the box and mask losses, the box
    head's averaged over the stages as the reference averages them. The
    first stage's draw takes every row (100 proposals + 3 boxes), so both
    sides sample the same ROIs."""
    ours, reference, rng = _transferred_pair(
        seed, train_proposals=dict(pre_nms_top_k=300, num_proposals=100),
        sampling=dict(roi_samples_per_image=103, roi_foreground_fraction=1.0,
                      mask_samples_per_image=12, seed=0))
    outputs, theirs, boxes = two_stage_training_pass(ours, reference, rng)
    assert len(outputs["stages"]) == 3
    for stage, ours_stage in enumerate(outputs["stages"]):
        # ROIs decoded from RPN codes equal within 1e-5 agree within ~1e-3
        # pixels; a box target is that over the ROI's side times the stage's
        # coder weight (10, 20, 30), so its tolerance grows with the weight;
        # the heads' outputs see the shift through ROI align and batch norms
        # made to amplify (x4-10 each), so within 1e-3.
        weight = STAGE_BOX_CODER_WEIGHTS[stage][0]
        for key, their_key, tolerance in (("class_targets", "class_targets", 0),
                                          ("box_targets", "box_targets", 1e-4 * weight),
                                          ("class_logits", "class_outputs", 1e-3),
                                          ("box_deltas", "box_outputs", 1e-3)):
            np.testing.assert_allclose(
                np.asarray(ours_stage[key]), np.asarray(theirs[_stage_key(their_key, stage)]),
                rtol=tolerance, atol=tolerance, err_msg=f"stage {stage}: {key}")
        assert (np.asarray(ours_stage["class_targets"]) > 0).sum() >= 4, stage
    # The mask targets are sampled in the last stage's ROIs, refined twice:
    # they agree within ~5e-3 pixels there, and a binary mask resampled
    # bilinearly moves by up to that per pixel of shift.
    for key, their_key, tolerance in (("mask_targets", "mask_targets", 1e-2),
                                      ("mask_classes", "mask_class_targets", 0),
                                      ("mask_logits", "mask_outputs", 1e-3)):
        np.testing.assert_allclose(np.asarray(outputs[key]), np.asarray(theirs[their_key]),
                                   rtol=tolerance, atol=tolerance, err_msg=key)
    losses = ours.detection_loss(outputs, ours.level_sizes(128, 128))
    class_loss = maskrcnn_losses.FastrcnnClassLoss()
    box_loss = maskrcnn_losses.FastrcnnBoxLoss(1.0, class_agnostic_bbox_pred=True)
    expected = {
        "frcnn_class_loss": np.mean([float(class_loss(
            theirs[_stage_key("class_outputs", k)], theirs[_stage_key("class_targets", k)]))
            for k in range(3)]),
        "frcnn_box_loss": np.mean([float(box_loss(
            theirs[_stage_key("box_outputs", k)], theirs[_stage_key("class_targets", k)],
            theirs[_stage_key("box_targets", k)])) for k in range(3)]),
        "mask_loss": float(maskrcnn_losses.MaskrcnnLoss()(
            theirs["mask_outputs"], theirs["mask_targets"], theirs["mask_class_targets"])),
    }
    for term, value in expected.items():
        np.testing.assert_allclose(float(losses[term]), value, rtol=1e-4, err_msg=term)


def test_cascade_settings_are_checked_and_serialise():
    model = CascadeRCNN.from_variant("spinenet-mobile-49xs", 3, image_size=128,
                                     rpn_num_filters=8, box_num_convs=0, box_fc_dims=8,
                                     mask_num_convs=0, mask_num_filters=8)
    clone = CascadeRCNN.from_config(model.get_config())
    assert clone.get_config() == model.get_config() and clone.num_stages == 3
    assert [head.name for head in clone.box_heads] == ["box_head", "box_head_2", "box_head_3"]
    assert sorted(model.parts()) == ["backbone", "box_head", "box_head_2", "box_head_3",
                                     "mask_head", "rpn_head"]
    with pytest.raises(ValueError, match="class_agnostic_boxes=True"):
        CascadeRCNN(model.backbone, 3, class_agnostic_boxes=False)
    with pytest.raises(ValueError, match="At most 2 cascade_iou_thresholds"):
        CascadeRCNN(model.backbone, 3, cascade_iou_thresholds=(0.6, 0.7, 0.8))
