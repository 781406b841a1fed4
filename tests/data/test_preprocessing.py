"""The models' input contract (`ImagePreprocessor`) against
tf-models-official's `preprocess_ops`, and its errors and serialization."""

import numpy as np
import pytest
import tensorflow as tf
from support import assert_config_round_trip

from spinenet_tf import ImagePreprocessor, RetinaNet


@pytest.mark.parametrize("shape,output", [((480, 640), (640, 640)),
                                          ((375, 500), (384, 384)),
                                          ((200, 90), (256, 128))])
@pytest.mark.reference
def test_preprocessing_matches_reference(shape, output):
    preprocess_ops = pytest.importorskip("official.vision.ops.preprocess_ops")
    image = tf.constant(np.random.default_rng(0).integers(0, 256, shape + (3,)), tf.uint8)
    ours, ours_info = ImagePreprocessor(output).preprocess(image)
    reference = preprocess_ops.normalize_image(image)
    reference, reference_info = preprocess_ops.resize_and_crop_image(
        reference, list(output), list(output))
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    np.testing.assert_allclose(ours_info, reference_info, rtol=1e-6)


@pytest.mark.reference
def test_uint8_and_float_pixels_are_one_contract():
    """0..255 pixels give the same input whatever their dtype, and
    `denormalize` gives them back."""
    preprocess_ops = pytest.importorskip("official.vision.ops.preprocess_ops")
    preprocessor = ImagePreprocessor((8, 8))
    pixels = np.random.default_rng(1).integers(0, 256, (2, 8, 8, 3)).astype("uint8")
    as_uint8 = preprocessor.normalize(pixels).numpy()
    np.testing.assert_array_equal(preprocessor.normalize(pixels.astype("float32")),
                                  as_uint8)
    reference = preprocess_ops.normalize_image(tf.constant(pixels[0]))
    np.testing.assert_allclose(as_uint8[0], reference, atol=1e-5)
    np.testing.assert_allclose(preprocessor.denormalize(as_uint8), pixels, atol=1e-3)


def test_a_batch_of_any_size_is_fitted_and_padded_with_zero():
    preprocessor = ImagePreprocessor((64, 32))
    images, info = preprocessor(np.full((2, 100, 100, 3), 255, "uint8"))
    assert images.shape == (2, 64, 32, 3) and info.shape == (2, 4, 2)
    np.testing.assert_allclose(info[0, 2], [0.32, 0.32])  # 100 px -> 32 px
    assert np.all(images[:, 32:].numpy() == 0.0)  # the padding, normalised space
    assert np.all(images[:, :32].numpy() > 2.0)  # white is ~2.2 std above the mean


def test_bad_arguments_say_what_was_received():
    with pytest.raises(ValueError, match=r"received \(64,\)"):
        ImagePreprocessor((64,))
    with pytest.raises(ValueError, match="stddev"):
        ImagePreprocessor((64, 64), stddev=(0.2, 0.0, 0.2))


def test_the_model_owns_and_serialises_its_preprocessor():
    preprocessor = assert_config_round_trip(ImagePreprocessor((96, 64), mean=(0.5, 0.5, 0.5)))
    assert preprocessor.mean == (0.5, 0.5, 0.5)
    model = RetinaNet.from_variant("spinenet-mobile-49xs", num_classes=3, image_size=128,
                                   head_num_convs=1, head_num_filters=8)
    assert model.preprocessor.image_size == (128, 128)
    restored = RetinaNet.from_config(model.get_config())
    assert restored.preprocessor.get_config() == model.preprocessor.get_config()
