"""The SavedModel of the inference form (batch norm folded): float32 serves
the trained model's detections, bfloat16 its top detections, and the file
holds the graph once."""

import os

import numpy as np
import pytest
import tensorflow as tf

from spinenet_tf import inference_model
from spinenet_tf.checkpoints import load_model_dir
from spinenet_tf.data.coco import load_coco
from spinenet_tf.export import export_saved_model
from spinenet_tf.export.saved_model_verification import verify_detection_saved_model
from spinenet_tf.testing import images_of_sizes


def directory_size(path):
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names)


@pytest.fixture(scope="module")
def trained(trained_run, synthetic_data):
    model, _ = load_model_dir(trained_run)
    folder = os.path.join(synthetic_data, "val")
    return model, load_coco(os.path.join(folder, "annotations.json"),
                            os.path.join(folder, "images"))


def test_folded_float32_saved_model_gives_the_trained_models_detections(trained, tmp_path):
    model, validation = trained
    folded = inference_model(model)
    path = export_saved_model(folded, str(tmp_path / "float32"))
    # The graph is stored once for the three signatures, without gradients.
    weight_bytes = sum(v.numpy().nbytes for v in folded.weights)
    assert directory_size(path) <= 2 * weight_bytes + 2 * 2**20, (
        directory_size(path), weight_bytes)

    serve = tf.saved_model.load(path).signatures["serving_default"]
    images = [tf.io.decode_png(tf.io.read_file(r.path), channels=3).numpy()
              for r in validation.records] + images_of_sizes([(100, 160)], seed=4)
    total = 0
    for image in images:
        expected = model.serving_outputs(*model.preprocessor(image[None]))
        served = serve(images=image[None])
        count = int(expected["num_detections"][0])
        total += count
        assert int(served["num_detections"][0]) == count
        np.testing.assert_array_equal(served["detection_classes"][0, :count],
                                      expected["detection_classes"][0, :count])
        np.testing.assert_allclose(served["detection_scores"][0, :count],
                                   expected["detection_scores"][0, :count], atol=1e-5)
        np.testing.assert_allclose(served["detection_boxes"][0, :count],
                                   expected["detection_boxes"][0, :count], atol=1e-3)
    assert total > 0


def test_bfloat16_saved_model_keeps_the_top_detections(trained, tmp_path):
    model, validation = trained
    path = export_saved_model(inference_model(model, "bfloat16"), str(tmp_path / "bf16"))
    summary = verify_detection_saved_model(model, path, "bfloat16", validation)
    matched, compared = summary["top_detections_matched"]
    assert compared > 0 and matched >= 0.95 * compared, summary
    assert abs(summary["ap_difference"]) <= 0.05, summary
