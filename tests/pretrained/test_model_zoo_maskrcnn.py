"""The TPU model zoo's Mask R-CNN checkpoints load into our `MaskRCNN`
(TPU flavour) and give the original code's outputs, stage by stage.

`model_zoo/maskrcnn_*` was written by `tools/make_model_zoo_fixtures.py`,
which runs tensorflow/tpu's own `MaskrcnnModel` (inference mode) in a TF1
graph on scaled-down settings with random weights: backbone features, RPN
outputs, proposals, box-head outputs on those proposals, detections and
masks. `maskrcnn_spinenet_swish_rpn2020` has the RPN tower of the code that
wrote the SpineNet-190 file (before tensorflow/tpu@40cf4c3).
"""

import functools
import json
import pathlib

import keras
import numpy as np
import pytest
from support import (
    assert_names_cover_exactly,
    assert_same_instances,
    assert_same_rows_in_any_order,
    read_manifest,
)

from spinenet_tf import registry
from spinenet_tf.backbones.spinenet import SpineNet
from spinenet_tf.backbones.variants import TPU_SPINENET_OPTIONS
from spinenet_tf.models.maskrcnn import MaskRCNN
from spinenet_tf.pretrained import build_preset_model, model_zoo_names
from spinenet_tf.pretrained.tf1_checkpoint import load_named_variables
from spinenet_tf.training.checkpoints import CheckpointMismatchError

DATA = pathlib.Path(__file__).parent / "model_zoo"
FIXTURES = sorted(p.name for p in DATA.glob("maskrcnn_*") if (p / "settings.json").exists())
LEVELS = [f"P{level}" for level in range(3, 8)]
RTOL = 1e-4


def settings_of(name):
    return json.loads((DATA / name / "settings.json").read_text())


def build_small(name, **overrides):
    """Our TPU-flavour Mask R-CNN for a fixture's settings."""
    settings = settings_of(name)
    height, width = settings["image_size"]
    backbone = SpineNet(
        "49", input_shape=(height, width, 3), activation=settings["activation"],
        norm_momentum=settings["batch_norm"]["momentum"],
        norm_epsilon=settings["batch_norm"]["epsilon"],
        **settings["spinenet"], **TPU_SPINENET_OPTIONS)
    head, detections = dict(settings["head"]), settings["detections"]
    options = dict(
        rpn_norm_each_conv=settings.get("rpn_code") != "2020", pixel_inclusive_boxes=True,
        test_proposals=settings["proposals"],
        pre_nms_top_k=detections["pre_nms_top_k"],
        pre_nms_score_threshold=detections["score_threshold"],
        nms_iou_threshold=detections["nms_iou_threshold"],
        max_detections=detections["max_detections"], **settings["anchors"])
    options.update(overrides)
    return MaskRCNN(backbone, head.pop("num_classes"), **head, **options)


@functools.lru_cache(maxsize=None)
def loaded(name):
    """(our model with the fixture's checkpoint, the original outputs, ours)."""
    model = build_small(name)
    skipped = load_named_variables(str(DATA / name / "model.ckpt"),
                                   model_zoo_names(model), name)
    assert set(skipped) == {"global step", "optimizer slot"}
    reference = dict(np.load(DATA / name / "outputs.npz"))
    content = np.array([settings_of(name)["content_size"]], "float32")
    outputs = model(reference["image"], image_shape=content)
    return model, reference, outputs


def relative_error(ours, theirs):
    return float(np.abs(np.asarray(ours) - theirs).max() / np.abs(theirs).max())


@pytest.mark.parametrize("name", FIXTURES)
def test_backbone_and_rpn_outputs_are_the_originals(name):
    model, reference, outputs = loaded(name)
    features = model.backbone(reference["image"], training=False)
    for level in LEVELS:
        assert relative_error(features[level], reference[level]) <= RTOL, level
        for ours, theirs in (("rpn_scores", f"rpn_scores_{level}"),
                             ("rpn_boxes", f"rpn_boxes_{level}")):
            assert np.abs(reference[theirs]).max() > 1e-2, f"{theirs} is trivially small"
            assert relative_error(outputs[ours][level], reference[theirs]) <= RTOL, theirs
    # The proposals: the same boxes (ROIs of tied scores may come in
    # another order).
    assert_same_rows_in_any_order(outputs["rois"][0], reference["rois"][0])


@pytest.mark.parametrize("name", FIXTURES)
def test_heads_on_the_original_rois_give_the_original_outputs(name):
    """The box head on the TPU code's own proposals, and the mask head on
    its own detections, position by position (ROI align included)."""
    model, reference, _ = loaded(name)
    features = model.backbone(reference["image"], training=False)
    class_logits, box_deltas = model.box_head(
        model.roi_aligner(features, reference["rois"]), training=False)
    assert relative_error(class_logits, reference["class_outputs"]) <= RTOL
    assert relative_error(box_deltas, reference["box_outputs"]) <= RTOL
    mask_logits = model.mask_head(
        [model.mask_roi_aligner(features, reference["detection_boxes"]),
         reference["detection_classes"]], training=False)
    masks = np.asarray(keras.ops.sigmoid(mask_logits))
    assert np.ptp(reference["detection_masks"]) > 0.1, "masks are trivially flat"
    np.testing.assert_allclose(masks, reference["detection_masks"], atol=1e-4)


@pytest.mark.parametrize("name", FIXTURES)
def test_detections_and_masks_are_the_originals(name):
    _, reference, outputs = loaded(name)
    count = int(reference["num_detections"][0])
    scores = reference["detection_scores"][0, :count]
    assert count >= 10 and np.ptp(scores) > 1e-2, "too few or tied detections"
    matched = assert_same_instances(outputs, reference)
    assert matched >= 0.9 * count


@pytest.mark.parametrize("option", [dict(aspect_ratios=(0.5, 1.0, 2.0)),
                                    dict(pixel_inclusive_boxes=False)])
def test_each_tpu_convention_changes_the_outputs(option):
    """The fixtures discriminate: Model Garden's anchor order (0.5, 1, 2)
    misreads the RPN's channels, and Model Garden's box convention (no
    inclusive pixel, clipped to the size) moves the boxes, so the proposals
    differ."""
    name = "maskrcnn_spinenet_relu"
    model = build_small(name, **option)
    load_named_variables(str(DATA / name / "model.ckpt"), model_zoo_names(model), name)
    reference = np.load(DATA / name / "outputs.npz")
    content = np.array([settings_of(name)["content_size"]], "float32")
    rois = np.asarray(model(reference["image"], image_shape=content)["rois"][0])
    with pytest.raises(AssertionError):
        assert_same_rows_in_any_order(rois, reference["rois"][0])


def test_the_2020_rpn_file_does_not_load_into_the_later_layout():
    name = "maskrcnn_spinenet_swish_rpn2020"
    model = build_small(name, rpn_norm_each_conv=True)
    with pytest.raises(CheckpointMismatchError, match=r"rpn_head/rpn-1/bias"):
        load_named_variables(str(DATA / name / "model.ckpt"), model_zoo_names(model), name)


MASKRCNNS = sorted(name for name, entry in registry.presets().items() if entry.family == "maskrcnn")


@pytest.mark.parametrize("entry_name", MASKRCNNS)
def test_full_size_mapping_covers_exactly_the_original_variables(entry_name):
    assert_names_cover_exactly(build_preset_model(entry_name, image_size=128), read_manifest(
        DATA / "manifests" / f"{entry_name}.txt.gz"))
