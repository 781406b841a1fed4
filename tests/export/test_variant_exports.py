"""Export of the variants' own heads beyond the tiny test detector
(SpineNet-Mobile-49XS with a one-conv head, `test_saved_model.py` /
`test_tflite.py`): SpineNet-49S (plain convs, 4 x 128) serves the Keras
model's detections from a SavedModel and its fp32 TFLite raw outputs are
within 1e-3 of Keras; SpineNet-Mobile-49 (separable convs, 4 x 48) too, and
its int8 file runs on XNNPACK. Both at 128 px."""

import numpy as np
import pytest
import tensorflow as tf

from spinenet_tf.export import convert_to_tflite, export_saved_model
from spinenet_tf.testing import (
    TINY_SIZE as SIZE, images_of_sizes, keras_detections, run_on_xnnpack, run_tflite,
    tiny_detector)

pytest.importorskip("ai_edge_litert.interpreter")


@pytest.mark.parametrize("name,int8", [("spinenet-49s", False),
                                       ("spinenet-mobile-49", True)])
def test_variant_exports(name, int8, tmp_path):
    model = tiny_detector(name, head_num_convs=None)
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
    raw = model.tflite_outputs(model.preprocessor.normalize(image[None]),
                               post_processing=False)
    for key in ("class_logits", "box_deltas"):
        np.testing.assert_allclose(outputs[key], raw[key], atol=1e-3)
    if not int8:
        return
    int8_file = convert_to_tflite(model, "int8", uint8_input=True,
                                  representative_images=images_of_sizes([(SIZE, SIZE)] * 4))
    on_xnnpack = run_on_xnnpack(int8_file, image, str(tmp_path))
    count = int(on_xnnpack["num_detections"][0])
    assert on_xnnpack["detection_boxes"].shape == (1, 100, 4)
    assert count > 0 and np.all(on_xnnpack["detection_scores"][0, :count] >= 0.05)
