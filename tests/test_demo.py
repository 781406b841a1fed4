"""The demo's picture helpers (the demo itself runs in the README command)."""

import numpy as np

from spinenet_tf.demo import activation_picture, draw_test_image


def test_test_image_is_deterministic_uint8_rgb():
    image = draw_test_image(size=64, seed=1)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, draw_test_image(size=64, seed=1))
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 10


def test_activation_picture_tiles_every_level_at_one_size():
    features = {f"P{l}": np.random.rand(1, 80 // 2**(l - 3), 80 // 2**(l - 3), 4)
                for l in range(3, 8)}
    picture = activation_picture(features, size=64)
    assert picture.shape == (72, 5 * 72, 3) and picture.dtype == np.uint8
