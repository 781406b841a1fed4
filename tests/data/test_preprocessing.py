"""Preprocessing against tf-models-official's `preprocess_ops`."""

import numpy as np
import pytest
import tensorflow as tf

from spinenet_tf.data import normalize_image, preprocess_for_detection

preprocess_ops = pytest.importorskip("official.vision.ops.preprocess_ops")


@pytest.mark.parametrize("shape,output", [((480, 640), (640, 640)),
                                          ((375, 500), (384, 384)),
                                          ((200, 90), (256, 128))])
def test_preprocessing_matches_reference(shape, output):
    image = tf.constant(np.random.default_rng(0).integers(0, 256, shape + (3,)), tf.uint8)
    ours, ours_info = preprocess_for_detection(image, output)
    reference = preprocess_ops.normalize_image(image)
    reference, reference_info = preprocess_ops.resize_and_crop_image(
        reference, list(output), list(output))
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    np.testing.assert_allclose(ours_info, reference_info, rtol=1e-6)


def test_normalize_image_uses_imagenet_statistics():
    pixel = tf.constant([[[124, 116, 104]]], tf.uint8)  # about the mean
    np.testing.assert_allclose(normalize_image(pixel), 0.0, atol=0.01)
