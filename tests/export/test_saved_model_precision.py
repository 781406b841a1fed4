"""The SavedModel of the inference form (batch norm folded): float32 serves
the Keras model's detections, bfloat16 those of the bfloat16 form, and the
file holds the graph once.

How many of a trained model's top-10 detections bfloat16 keeps is measured
on the demo model by `export_saved_model.py --precision bfloat16 --verify`
(docs/benchmarks.md), not here: it needs a detector trained for minutes,
and random weights give tied or saturated scores whose order bfloat16
rounding reshuffles, which says nothing about a trained model."""

import os

import numpy as np
import pytest
import tensorflow as tf
from support import detection_rows, images_of_sizes, keras_detections, tiny_detector

from spinenet_tf import inference_model
from spinenet_tf.data.coco import load_coco
from spinenet_tf.data.detection_input import DetectionInput, examples_from_coco
from spinenet_tf.evaluation.detection_evaluation import EvaluationData
from spinenet_tf.export import export_saved_model
from spinenet_tf.export.saved_model_verification import verify_detection_saved_model

MAX_DETECTIONS = 100  # the detector's default


def directory_size(path):
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names)


@pytest.fixture(scope="module")
def detector():
    # Fresh batch-norm statistics: random ones make many exactly tied scores,
    # whose order NMS leaves arbitrary. tests/quantization/test_inference_model.py
    # checks the folding itself with random statistics. The variant's own
    # blocks: the short backbone's bfloat16 scores are nearly all tied.
    return tiny_detector(seed=3, short=False)


def served_rows(signature, image):
    out = signature(images=tf.constant(image[None]))
    count = int(out["num_detections"][0])
    return count, detection_rows(out["detection_boxes"][0, :count].numpy(),
                                 out["detection_scores"][0, :count].numpy(),
                                 out["detection_classes"][0, :count].numpy())


def assert_same_detections(received, expected, atol=2e-3):
    """Equal sets of (score, class, box) rows, except among the rows tied
    with the lowest score when the detections are cut at their maximum:
    which of those tied candidates make the cut is arbitrary (bfloat16
    scores of random weights tie often); there only the count must agree."""
    assert len(received) == len(expected) > 0
    if len(expected) == MAX_DETECTIONS:
        cut = expected[:, 0].min()
        received = received[received[:, 0] > cut + atol]
        expected = expected[expected[:, 0] > cut + atol]
    np.testing.assert_allclose(received, expected, atol=atol)


@pytest.mark.slow
def test_folded_float32_saved_model_gives_the_keras_models_detections(detector, tmp_path):
    folded = inference_model(detector)
    path = export_saved_model(folded, str(tmp_path / "float32"))
    # The graph is stored once for the three signatures.
    weight_bytes = sum(v.numpy().nbytes for v in folded.weights)
    assert directory_size(path) <= 2 * weight_bytes + 2 * 2**20, (
        directory_size(path), weight_bytes)
    serve = tf.saved_model.load(path).signatures["serving_default"]
    for image in images_of_sizes([(128, 128), (100, 160), (200, 90)], seed=5):
        expected = detection_rows(*keras_detections(detector, image))  # unfolded
        _, received = served_rows(serve, image)
        assert_same_detections(received, expected)


@pytest.mark.slow
def test_bfloat16_saved_model_serves_the_bfloat16_form(detector, synthetic_data, tmp_path):
    fast = inference_model(detector, "bfloat16")
    path = export_saved_model(fast, str(tmp_path / "bfloat16"))
    weight_bytes = sum(v.numpy().nbytes for v in fast.weights)
    assert {v.dtype for v in fast.weights} == {"bfloat16"}
    assert directory_size(path) <= 2 * weight_bytes + 2 * 2**20
    serve = tf.saved_model.load(path).signatures["serving_default"]
    for image in images_of_sizes([(128, 128), (100, 160)], seed=6):
        expected = detection_rows(*keras_detections(fast, image))
        _, received = served_rows(serve, image)
        assert_same_detections(received, expected)
    # --verify's check runs and reports against the float32 Keras model.
    folder = os.path.join(synthetic_data, "val")
    coco = load_coco(os.path.join(folder, "annotations.json"), os.path.join(folder, "images"))
    evaluation = EvaluationData(
        DetectionInput(detector.preprocessor, training=False)(examples_from_coco(coco), 2),
        coco.annotation_file, coco.categories, coco.num_images)
    summary = verify_detection_saved_model(detector, path, "bfloat16", evaluation,
                                           max_images=2)
    _, compared = summary["top_detections_matched"]
    assert compared == 20  # two images, ten detections each
    assert {"keras_ap", "saved_model_ap", "latency_ms"} <= set(summary)


@pytest.mark.slow
def test_a_model_trained_in_mixed_bfloat16_exports_int8_tflite(synthetic_data, tmp_path):
    """`trainer.mixed_precision: bfloat16` (or `auto` on an AMX CPU) leaves a
    model whose layers compute in bfloat16; the converter cannot quantize
    those ops, so the TFLite path starts from its float32 inference form."""
    import keras
    from support import run_tflite

    from spinenet_tf.export.tflite_export import export_and_verify_tflite
    from spinenet_tf.quantization.inference_form import compute_dtype_of

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        mixed = tiny_detector(seed=3)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert mixed.compute_dtype == "bfloat16"
    # As export_saved_model.py finds it: loaded from its .keras file, where
    # the model itself reports float32 while its layers compute in bfloat16.
    mixed.save(str(tmp_path / "mixed.keras"))
    loaded = keras.saving.load_model(str(tmp_path / "mixed.keras"))
    assert compute_dtype_of(loaded) == "bfloat16" and compute_dtype_of(
        tiny_detector()) == "float32"
    summary = export_and_verify_tflite(
        loaded, None, str(tmp_path), "int8", raw_outputs=True,
        calibration_data=os.path.join(synthetic_data, "train", "images"),
        calibration_images=4)
    assert os.path.getsize(summary["tflite"]) > 0
    image = np.asarray(images_of_sizes([(128, 128)])[0], "float32")
    with open(summary["tflite"], "rb") as f:
        outputs, _ = run_tflite(f.read(), image)
    assert outputs and all(np.isfinite(v).all() for v in outputs.values())
