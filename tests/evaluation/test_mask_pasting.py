"""Masks pasted into the image as tf-models-official's evaluation pastes
them: hand-computed cases, and its `paste_instance_masks` (OpenCV) on
random ones."""

import numpy as np
import pytest

from spinenet_tf.evaluation.mask_pasting import bilinear_resize, paste_masks


def test_a_full_mask_fills_its_box_and_nothing_else():
    # A 4x4 mask of ones in the box rows 2..10, columns 4..16 of a 20x24 image.
    pasted = paste_masks(np.ones((1, 4, 4)), np.array([[2.0, 4.0, 10.0, 16.0]]), 20, 24)
    assert pasted.shape == (1, 20, 24) and pasted.dtype == np.uint8
    rows, columns = np.nonzero(pasted[0])
    # The padded 6x6 map spans the box grown by 6/4: rows 0..12, columns 1..19;
    # above 0.5 is the inner part, within a pixel of the box.
    assert abs(rows.min() - 2) <= 1 and abs(rows.max() - 10) <= 1
    assert abs(columns.min() - 4) <= 1 and abs(columns.max() - 16) <= 1
    assert pasted[0, 6, 10] == 1 and pasted[0, 15, 10] == 0 and pasted[0, 6, 22] == 0


def test_the_left_half_of_a_mask_lands_on_the_left_half_of_its_box():
    mask = np.zeros((1, 8, 8))
    mask[0, :, :4] = 1.0
    pasted = paste_masks(mask, np.array([[0.0, 0.0, 16.0, 32.0]]), 16, 32)[0]
    assert pasted[8, 2:14].all() and not pasted[8, 18:].any()


def test_a_box_past_the_image_is_clipped():
    pasted = paste_masks(np.ones((1, 4, 4)), np.array([[-10.0, -10.0, 6.0, 6.0]]), 8, 8)[0]
    assert pasted[:5, :5].all() and not pasted[7:, :].any() and not pasted[:, 7:].any()


def test_bilinear_resize_samples_pixel_centres():
    # 2 pixels -> 4: centres at -0.25, 0.25, 0.75, 1.25 of the source.
    image = np.array([[0.0, 1.0]])
    np.testing.assert_allclose(bilinear_resize(image, 1, 4), [[0.0, 0.25, 0.75, 1.0]])


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"received masks \(2, 4\) and boxes \(2, 4\)"):
        paste_masks(np.zeros((2, 4)), np.zeros((2, 4)), 8, 8)


@pytest.mark.reference
def test_paste_equals_model_garden():
    cv2 = pytest.importorskip("cv2")
    mask_ops = pytest.importorskip("official.vision.ops.mask_ops")
    rng = np.random.default_rng(0)
    for size in [(28, 28), (14, 14)]:
        masks = rng.uniform(0, 1, (30,) + size).astype("float32")
        top, left = rng.uniform(-20, 90, 30), rng.uniform(-20, 110, 30)
        boxes = np.stack([top, left, top + rng.uniform(1, 60, 30),
                          left + rng.uniform(1, 60, 30)], -1)
        xywh = np.stack([boxes[:, 1], boxes[:, 0], boxes[:, 3] - boxes[:, 1],
                         boxes[:, 2] - boxes[:, 0]], -1)
        theirs = mask_ops.paste_instance_masks(masks, xywh, 100, 120)
        ours = paste_masks(masks, boxes, 100, 120)
        # Exactly equal here; a probability within float rounding of 0.5
        # could in principle land on either side.
        np.testing.assert_array_equal(ours, theirs, err_msg=f"OpenCV {cv2.__version__}")
