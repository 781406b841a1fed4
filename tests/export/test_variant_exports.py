"""Export of the other on-device variants and of SpineNet-49S: the
SavedModel serves the Keras model's detections, fp32 TFLite raw outputs
are within 1e-3 of Keras, and int8 converts and runs on XNNPACK.

The tests of `test_saved_model.py` and `test_tflite.py` use SpineNet-Mobile-
49XS with a tiny head; these use each variant's own head at 128 px.
"""

import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from spinenet_tf import RetinaNet
from spinenet_tf.data.preprocessing import normalize_image
from spinenet_tf.detection.anchor_generator import flatten_multilevel
from spinenet_tf.export import convert_to_tflite, export_saved_model

litert = pytest.importorskip("ai_edge_litert.interpreter")

from test_saved_model import SIZE, images_of_sizes, keras_detections  # noqa: E402
from test_tflite import XNNPACK_RUN, run_tflite  # noqa: E402


def variant_detector(name):
    keras.utils.set_random_seed(1)
    model = RetinaNet.from_variant(name, num_classes=4, image_size=SIZE)
    # Varied scores (not the prior's near-constant ones): NMS has real work.
    rng = np.random.default_rng(2)
    for variable in model.head.class_predictor.weights:
        variable.assign(rng.normal(0.0, 0.3, variable.shape).astype("float32"))
    return model


@pytest.mark.parametrize("name", ["spinenet-mobile-49", "spinenet-mobile-49s",
                                  "spinenet-49s"])
def test_variant_exports(name, tmp_path):
    model = variant_detector(name)
    image = images_of_sizes([(SIZE, SIZE)], seed=7)[0]

    path = export_saved_model(model, str(tmp_path / "saved_model"))
    served = tf.saved_model.load(path).signatures["serving_default"](
        images=tf.constant(image[None]))
    _, scores, classes = keras_detections(model, image)
    count = int(served["num_detections"][0])
    assert 0 < count == len(scores)
    np.testing.assert_allclose(served["detection_scores"][0, :count], scores, atol=1e-4)
    assert sorted(served["detection_classes"][0, :count].numpy()) == sorted(classes)

    outputs, _ = run_tflite(convert_to_tflite(model, post_processing=False), image)
    raw = model(normalize_image(image)[None], training=False)
    np.testing.assert_allclose(outputs["class_logits"], flatten_multilevel(
        raw["class_logits"], model.num_classes), atol=1e-3)
    np.testing.assert_allclose(outputs["box_deltas"], flatten_multilevel(
        raw["box_deltas"], 4), atol=1e-3)

    int8 = convert_to_tflite(model, "int8", uint8_input=True,
                             representative_images=images_of_sizes([(SIZE, SIZE)] * 4))
    (tmp_path / "model.tflite").write_bytes(int8)
    np.save(tmp_path / "image.npy", image)
    result = subprocess.run(  # XNNPACK in a child process, in case it aborts
        [sys.executable, "-c", XNNPACK_RUN, str(tmp_path / "model.tflite"),
         str(tmp_path / "image.npy"), str(tmp_path / "out.npz")],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    on_xnnpack = np.load(tmp_path / "out.npz")
    assert 0 <= int(on_xnnpack["num_detections"][0]) <= 100
