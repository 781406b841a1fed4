"""`export_saved_model.py` on a real `train.py` model dir, and its usage errors."""

import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from support import ROOT, TRAINED_STEPS
from support import run_command as run


@pytest.mark.slow
def test_export_of_a_trained_model_dir_serves_its_detections(synthetic_data, trained_run,
                                                             tmp_path):
    data, model_dir = synthetic_data, trained_run
    export_dir = str(tmp_path / "export")
    result = run([sys.executable, os.path.join(ROOT, "export_saved_model.py"),
                  "--model_dir", model_dir, "--export_dir", export_dir,
                  "--tflite", "int8", "--uint8_input", "--calibration_images", "4",
                  "--verify", "--verify_images", "2"])
    assert f"ckpt-{TRAINED_STEPS}" in result.stdout and "MiB" in result.stdout
    # TensorFlow's Python INFO lines stay out of the output.
    assert "Assets written" not in result.stdout + result.stderr
    # int8 calibrated on the run's training images, verified on its eval data.
    assert "Calibrating int8 on 4 images" in result.stdout
    assert os.path.getsize(os.path.join(export_dir, "model_int8.tflite")) > 10_000
    # The per-layer report: the worst layers printed, all of them in a table.
    assert "int8 layers with the largest quantization error" in result.stdout
    with open(os.path.join(export_dir, "model_int8_layers.csv")) as f:
        assert len(f.read().splitlines()) > 50
    # The AP budget (default 1 point) is measured against the fp32 file.
    assert "until int8 loses at most 1.00 AP points" in result.stdout
    assert re.search(r"0 worst layers in float: (loses|gains) \d\.\d\d AP points to fp32 "
                     r"\(budget: loses at most 1\.00\)", result.stdout), result.stdout
    for line in ("top-5 detections after class-agnostic NMS", "COCO AP on 4 images: Keras",
                 "TFLite fp32", "points to fp32", "latency (2 threads"):
        assert line in result.stdout, result.stdout
    # The SavedModel is the folded float32 form, checked against Keras too.
    for line in ("batch norm folded, float32", "a SavedModel (float32) one of the same class",
                 "Keras float32", "SavedModel float32", "latency (batch 1"):
        assert line in result.stdout, result.stdout

    from spinenet_tf.training.checkpoints import load_model_dir

    model, _ = load_model_dir(model_dir)
    image = tf.io.decode_png(tf.io.read_file(
        os.path.join(data, "val", "images", sorted(os.listdir(
            os.path.join(data, "val", "images")))[0])), channels=3)
    expected = model.serving_outputs(*model.preprocessor(image[None]))
    served = tf.saved_model.load(export_dir).signatures["serving_default"](images=image[None])
    count = int(expected["num_detections"][0])
    assert int(served["num_detections"][0]) == count
    np.testing.assert_allclose(served["detection_scores"][0, :count],
                               expected["detection_scores"][0, :count], atol=1e-5)


@pytest.mark.slow
def test_usage_errors_say_what_was_received(tmp_path):
    command = [sys.executable, os.path.join(ROOT, "export_saved_model.py"),
               "--export_dir", str(tmp_path / "x")]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode != 0
    assert "exactly one of --model_dir and --config" in result.stderr
    # An input error is one line, no traceback (unless --debug).
    result = subprocess.run(command + ["--model_dir", str(tmp_path)], capture_output=True,
                            text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"error: FileNotFoundError: {tmp_path}/model.keras not found" in result.stderr
    result = subprocess.run(command + ["--model_dir", str(tmp_path), "--debug"],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "Traceback" in result.stderr


@pytest.mark.reference
@pytest.mark.slow
def test_export_of_a_model_garden_checkpoint_serves_model_garden_detections(tmp_path):
    """`--config` + `--model_garden_checkpoint`: the SavedModel gives the
    detections of the tf-models-official model that wrote the checkpoint."""
    pytest.importorskip("official")  # the oracle: TensorFlow 2.20 only
    from support import randomize_batch_norm, randomize_predictors

    from spinenet_tf.config import load_config
    from spinenet_tf.export.detection_matching import one_image
    from spinenet_tf.models.base import task_for_config
    from spinenet_tf.models.retinanet import build_model_garden_retinanet
    from spinenet_tf.ops.box_ops import box_iou

    config_path = os.path.join(ROOT, "configs", "retinanet_mobile_synthetic_demo.yaml")
    keras.utils.set_random_seed(5)
    ours = task_for_config(load_config(config_path)).build_network()
    reference = build_model_garden_retinanet(ours)
    image = np.random.default_rng(3).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    normalized = np.asarray(ours.preprocessor.normalize(image), "float32")[None]
    randomize_batch_norm(reference)
    randomize_predictors(reference, normalized)
    tf.train.Checkpoint(**reference.checkpoint_items).save(str(tmp_path / "garden" / "ckpt"))

    export_dir = str(tmp_path / "export")
    result = run([sys.executable, os.path.join(ROOT, "export_saved_model.py"),
                  "--config", config_path, "--model_garden_checkpoint",
                  str(tmp_path / "garden"), "--export_dir", export_dir])
    assert "weights from the Model Garden checkpoint" in result.stdout, result.stdout
    expected = reference(normalized, image_shape=tf.constant([[128, 128]]), training=False)
    served = tf.saved_model.load(export_dir).signatures["serving_default"](
        images=image[None])
    # Every detection clearly above the score threshold, either way, has a
    # partner of the same class, box and score. Counts are not compared: the
    # SavedModel is the folded form, computed in another order, so a random
    # box within rounding of the score threshold or of an NMS overlap may be
    # kept on one side only.
    threshold = ours.detection_generator.pre_nms_score_threshold + 0.02
    wanted, got = one_image(expected, 0), one_image(served, 0)

    def confident(detections):
        keep = detections["detection_scores"] > threshold
        return {key: value[keep] for key, value in detections.items()
                if key != "num_detections"}

    for first, second in ((wanted, got), (got, wanted)):
        strong = confident(first)
        assert len(strong["detection_scores"]) > 0
        iou = np.asarray(box_iou(strong["detection_boxes"], second["detection_boxes"]))
        partner = ((iou > 0.99)
                   & (strong["detection_classes"][:, None] == second["detection_classes"][None])
                   & (np.abs(strong["detection_scores"][:, None]
                             - second["detection_scores"][None]) < 1e-3))
        assert partner.any(axis=1).all(), (strong, second)
