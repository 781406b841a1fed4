"""The Mask R-CNN heads against tf-models-official's (`RPNHead`,
`DetectionHead`, `MaskHead`): parameter counts, and outputs after weight
transfer, in inference and in training (batch statistics).

Expected figures come from the installed tf-models-official, or were
counted once with tf-models-official 2.20 (`factory.build_maskrcnn` on
`maskrcnn_spinenet_coco`), never from the code under test.
"""

import keras
import numpy as np
import pytest
from support import max_abs_difference, randomize_batch_norm

from spinenet_tf.rcnn import BoxHead, MaskHead, RPNHead
from spinenet_tf.rcnn.model_garden_twin import (
    transfer_model_garden_box_head,
    transfer_model_garden_mask_head,
    transfer_model_garden_rpn_head,
)

pytest.importorskip("official")
from official.vision.modeling.heads import dense_prediction_heads, instance_heads  # noqa: E402

pytestmark = pytest.mark.reference  # CI: the TensorFlow 2.20 environment


def coco_heads(endpoint_filters=256):
    """Ours and Model Garden's heads of the COCO recipe, built."""
    rpn = RPNHead(3, 7, anchors_per_location=3)
    rpn.build({f"P{level}": (None, 8, 8, endpoint_filters) for level in range(3, 8)})
    box = BoxHead(91)
    box.build((None, 4, 7, 7, endpoint_filters))
    mask = MaskHead(91)
    mask.build([(None, 4, 14, 14, endpoint_filters), (None, 4)])
    return rpn, box, mask


def reference_heads(endpoint_filters=256, batch=1):
    rpn = dense_prediction_heads.RPNHead(3, 7, 3)
    rpn({str(level): np.zeros((batch, 8, 8, endpoint_filters), "float32")
         for level in range(3, 8)})
    box = instance_heads.DetectionHead(91, num_convs=4, num_fcs=1)
    box(np.zeros((batch, 4, 7, 7, endpoint_filters), "float32"))
    mask = instance_heads.MaskHead(91)
    mask([np.zeros((batch, 4, 14, 14, endpoint_filters), "float32"),
          np.zeros((batch, 4), "int32")])
    return rpn, box, mask


def test_coco_heads_have_model_garden_parameter_counts():
    for ours, theirs in zip(coco_heads(), reference_heads()):
        assert ours.count_params() == theirs.count_params(), ours.name
        assert (sum(int(np.prod(w.shape)) for w in ours.trainable_weights)
                == sum(int(np.prod(w.shape)) for w in theirs.trainable_weights)), ours.name


def _randomize(head, seed):
    """Every weight random (biases and predictors included), batch norms
    with their own statistics: a wrongly paired weight shows."""
    rng = np.random.default_rng(seed)
    for weight in head.weights:
        weight.assign(rng.normal(0.0, 0.05, weight.shape).astype("float32"))
    randomize_batch_norm(head, seed)


def _outputs_equal(ours_outputs, their_outputs, tolerance=1e-4):
    flat_ours = keras.tree.flatten(ours_outputs)
    flat_theirs = keras.tree.flatten(their_outputs)
    assert len(flat_ours) == len(flat_theirs)
    for a, b in zip(flat_ours, flat_theirs):
        assert a.shape == b.shape
        assert max_abs_difference(a, b) <= tolerance


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("separable", [False, True])
def test_rpn_head_gives_model_garden_outputs(training, separable):
    rng = np.random.default_rng(1)
    features = {level: rng.normal(size=(2, 32 // 2 ** (level - 3), 32 // 2 ** (level - 3), 16))
                .astype("float32") for level in range(3, 8)}
    theirs = dense_prediction_heads.RPNHead(3, 7, 3, num_convs=2, num_filters=24,
                                            use_separable_conv=separable, activation="swish")
    theirs({str(k): v for k, v in features.items()})
    ours = RPNHead(3, 7, 3, num_convs=2, num_filters=24, use_separable_conv=separable,
                   activation="swish")
    ours.build({f"P{k}": v.shape for k, v in features.items()})
    _randomize(theirs, 2)
    transfer_model_garden_rpn_head(theirs, ours)
    their_scores, their_boxes = theirs({str(k): v for k, v in features.items()},
                                       training=training)
    our_scores, our_boxes = ours({f"P{k}": v for k, v in features.items()}, training=training)
    _outputs_equal([our_scores[f"P{k}"] for k in range(3, 8)],
                   [their_scores[str(k)] for k in range(3, 8)])
    _outputs_equal([our_boxes[f"P{k}"] for k in range(3, 8)],
                   [their_boxes[str(k)] for k in range(3, 8)])


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("separable,class_agnostic", [(False, False), (True, True)])
def test_box_head_gives_model_garden_outputs(training, separable, class_agnostic):
    rois = np.random.default_rng(3).normal(size=(2, 5, 7, 7, 16)).astype("float32")
    theirs = instance_heads.DetectionHead(
        6, num_convs=2, num_filters=24, use_separable_conv=separable, num_fcs=2, fc_dims=32,
        class_agnostic_bbox_pred=class_agnostic)
    theirs(rois)
    ours = BoxHead(6, num_convs=2, num_filters=24, use_separable_conv=separable, num_fcs=2,
                   fc_dims=32, class_agnostic_boxes=class_agnostic)
    ours.build(rois.shape)
    _randomize(theirs, 4)
    transfer_model_garden_box_head(theirs, ours)
    _outputs_equal(ours(rois, training=training), theirs(rois, training=training))


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("separable,class_agnostic", [(False, False), (True, True)])
def test_mask_head_gives_model_garden_outputs(training, separable, class_agnostic):
    rng = np.random.default_rng(5)
    rois = rng.normal(size=(2, 3, 14, 14, 16)).astype("float32")
    classes = rng.integers(0, 6, size=(2, 3)).astype("int32")
    theirs = instance_heads.MaskHead(6, num_convs=2, num_filters=24,
                                     use_separable_conv=separable, class_agnostic=class_agnostic)
    theirs([rois, classes])
    ours = MaskHead(6, num_convs=2, num_filters=24, use_separable_conv=separable,
                    class_agnostic=class_agnostic)
    ours.build([rois.shape, classes.shape])
    _randomize(theirs, 6)
    transfer_model_garden_mask_head(theirs, ours)
    ours_masks = ours([rois, classes], training=training)
    assert ours_masks.shape == (2, 3, 28, 28)
    _outputs_equal(ours_masks, theirs([rois, classes], training=training))


def test_mask_head_returns_the_map_of_each_rois_class():
    """Changing one ROI's class changes only that ROI's mask, to the map the
    all-class predictor gives for the new class."""
    rng = np.random.default_rng(7)
    rois = rng.normal(size=(1, 2, 6, 6, 8)).astype("float32")
    head = MaskHead(4, num_convs=1, num_filters=8)
    first = np.asarray(head([rois, np.array([[1, 2]])]))
    second = np.asarray(head([rois, np.array([[3, 2]])]))
    np.testing.assert_array_equal(first[0, 1], second[0, 1])
    assert max_abs_difference(first[0, 0], second[0, 0]) > 0
    agnostic_of_class_3 = np.asarray(head([rois[:, :1], np.array([[3]])]))
    np.testing.assert_allclose(agnostic_of_class_3[0, 0], second[0, 0], atol=1e-6)


@pytest.mark.parametrize("head,inputs", [
    (RPNHead(3, 4, 3, num_convs=1, num_filters=8, activation="swish",
             kernel_regularizer=keras.regularizers.L2(1e-4)),
     {"P3": (None, 8, 8, 4), "P4": (None, 4, 4, 4)}),
    (BoxHead(5, num_convs=1, num_filters=8, num_fcs=1, fc_dims=16, class_agnostic_boxes=True),
     (None, 3, 7, 7, 4)),
    (MaskHead(5, num_convs=1, num_filters=8, upsample_factor=2, use_separable_conv=True),
     [(None, 3, 7, 7, 4), (None, 3)]),
])
def test_heads_round_trip_through_their_config(head, inputs):
    """The config rebuilds an equal head (same config, weights, outputs),
    and `compute_output_shape` gives the shapes a call returns."""
    head.build(inputs)
    clone = type(head).from_config(head.get_config())
    clone.build(inputs)
    assert clone.get_config() == head.get_config()
    assert [w.path for w in clone.weights] == [w.path for w in head.weights]
    clone.set_weights(head.get_weights())
    rng = np.random.default_rng(8)
    values = keras.tree.map_shape_structure(
        lambda shape: rng.integers(0, 5, (2,) + tuple(shape[1:])).astype("int32")
        if len(shape) == 2 else rng.normal(size=(2,) + tuple(shape[1:])).astype("float32"),
        inputs)
    outputs = head(values)
    _outputs_equal(clone(values), outputs, tolerance=0)
    expected = keras.tree.map_shape_structure(
        lambda shape: (2,) + tuple(shape[1:]), head.compute_output_shape(inputs))
    assert keras.tree.map_structure(lambda x: tuple(x.shape), outputs) == expected


def test_heads_name_what_was_wrong_with_their_input():
    with pytest.raises(ValueError, match=r"missing \['P4'\]"):
        RPNHead(3, 4).build({"P3": (None, 8, 8, 4)})
    with pytest.raises(ValueError, match=r"same number of channels.*'P4': 8"):
        RPNHead(3, 4).build({"P3": (None, 8, 8, 4), "P4": (None, 4, 4, 8)})
    with pytest.raises(ValueError, match=r"BoxHead takes ROI features .*received shape \(None, 7, 7, 4\)"):
        BoxHead(5).build((None, 7, 7, 4))
    with pytest.raises(ValueError, match="`num_filters` must be >= 1; received 0"):
        MaskHead(5, num_filters=0)
    with pytest.raises(ValueError, match="`activation` must be one of"):
        BoxHead(5, activation="gelu")
