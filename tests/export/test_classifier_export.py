"""The classifier exports too: SavedModel `logits` / `probabilities` with a
fixed batch, and a TFLite file returning the Keras model's probabilities."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from support import SHORT_MOBILE_BLOCK_SPECS

import spinenet_tf
from spinenet_tf.export import convert_to_tflite, export_saved_model

SIZE = 128


@pytest.fixture(scope="module")
def classifier():
    keras.utils.set_random_seed(3)
    backbone = spinenet_tf.SpineNetMobile("49XS", input_shape=(SIZE, SIZE, 3),
                                          block_specs=SHORT_MOBILE_BLOCK_SPECS)
    return spinenet_tf.SpineNetClassifier(backbone, num_classes=5)


def image(seed, shape=(SIZE, SIZE, 3)):
    return np.random.default_rng(seed).integers(0, 255, shape).astype("uint8")


def test_saved_model_returns_logits_and_probabilities_with_a_fixed_batch(
        classifier, tmp_path):
    path = export_saved_model(classifier, str(tmp_path / "saved"), batch_size=2)
    signature = tf.saved_model.load(path).signatures["serve_image_tensor"]
    assert signature.structured_input_signature[1]["images"].shape.as_list() == [
        2, None, None, 3]
    images = np.stack([image(0, (96, 160, 3)), image(1, (96, 160, 3))])
    out = signature(images=tf.constant(images))
    prepared, _ = classifier.preprocessor(images)
    expected = classifier(prepared, training=False)
    np.testing.assert_allclose(out["logits"], expected, atol=1e-4)
    np.testing.assert_allclose(out["probabilities"], tf.nn.softmax(expected), atol=1e-5)
    with pytest.raises((ValueError, TypeError, tf.errors.InvalidArgumentError)):
        signature(images=tf.constant(images[:1]))  # batch 1 against a fixed 2


def test_tflite_returns_the_keras_probabilities(classifier):
    from ai_edge_litert import interpreter as litert

    runner = litert.Interpreter(
        model_content=convert_to_tflite(classifier)).get_signature_runner()
    picture = image(2)
    out = runner(image=picture[None].astype("float32"))
    expected = tf.nn.softmax(classifier(classifier.preprocessor.normalize(picture[None]),
                                        training=False))
    np.testing.assert_allclose(out["probabilities"], expected, atol=1e-4)
