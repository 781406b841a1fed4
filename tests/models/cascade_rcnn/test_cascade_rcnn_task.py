"""Cascade R-CNN through the project's trainer (`model.type: cascade_rcnn`):
training, COCO box and mask AP, pictures, and the SavedModel of its
inference forms (float32 and bfloat16, batch norm folded) giving the Keras
model's detections and masks."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from support import ROOT, SHORT_MOBILE_BLOCK_SPECS, matched_instances

from spinenet_tf import inference_model
from spinenet_tf.config import ConfigError, load_config
from spinenet_tf.export import export_saved_model
from spinenet_tf.models.cascade_rcnn import CascadeRCNN
from spinenet_tf.quantization import compute_dtype_of
from spinenet_tf.training.checkpoints import load_model_dir
from spinenet_tf.training.trainer import Trainer

CONFIG = os.path.join(ROOT, "configs", "cascade_rcnn_mobile_synthetic.yaml")


def small_config(data, steps=4, every=2):
    overrides = [
        f"model.block_specs={json.dumps(SHORT_MOBILE_BLOCK_SPECS)}",
        "model.box_num_convs=1", "model.mask_num_convs=1", "model.rpn_num_filters=8",
        "model.box_num_filters=8", "model.mask_num_filters=8", "model.box_fc_dims=32",
        "model.train_proposals={num_proposals: 64}", "model.test_proposals={num_proposals: 64}",
        "model.sampling={roi_samples_per_image: 32, mask_samples_per_image: 8}",
        "model.max_detections=10", "model.pre_nms_score_threshold=0.0",
        "train_data.batch_size=2", "eval_data.batch_size=4",
        f"trainer.train_steps={steps}", f"trainer.checkpoint_every={every}",
        "optimizer.boundaries=[]", "optimizer.values=[0.002]", "optimizer.warmup_steps=0"]
    for split, key in (("train", "train_data"), ("val", "eval_data")):
        overrides += [f"{key}.annotations={os.path.join(data, split, 'annotations.json')}",
                      f"{key}.image_dir={os.path.join(data, split, 'images')}"]
    return load_config(CONFIG, overrides)


@pytest.mark.slow
def test_trainer_trains_evaluates_draws_and_exports_cascade_rcnn(synthetic_data, tmp_path):
    config = small_config(synthetic_data)
    results = Trainer(config, str(tmp_path), tf.distribute.get_strategy(), verbose=0).run()
    assert results["step"] == 4 and results["evaluated_images"] == 4
    for name in ("AP", "AP50", "AP75", "mask_AP", "mask_AP50"):
        assert 0.0 <= results[name] <= 1.0
    log = json.load(open(tmp_path / "training_log.json"))
    assert {"rpn_score_loss", "frcnn_class_loss", "frcnn_box_loss", "mask_loss"} <= set(log[-1])
    for name in ("detections.png", "curves.png", "model.keras", "metrics.json"):
        assert (tmp_path / name).exists(), name

    # What export_saved_model.py does with the folder, in both precisions.
    model, checkpoint = load_model_dir(str(tmp_path))
    assert isinstance(model, CascadeRCNN) and model.num_stages == 3
    assert checkpoint.endswith("ckpt-4")
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (2, 96, 128, 3)).astype("uint8")
    prepared = [model.preprocessor.preprocess(tf.constant(p)) for p in pixels]
    images = tf.stack([p[0] for p in prepared])
    info = tf.stack([p[1] for p in prepared])
    keras_out = {k: np.asarray(v) for k, v in model.serving_outputs(images, info).items()}
    path = export_saved_model(inference_model(model), str(tmp_path / "export"))
    served = {k: v.numpy() for k, v in tf.saved_model.load(path).signatures[
        "serving_default"](images=tf.constant(pixels)).items()}
    assert served["detection_masks"].shape == (2, 10, 28, 28)
    for b in range(2):
        matched_instances(keras_out, served, b)
    bfloat16 = inference_model(model, "bfloat16")
    assert compute_dtype_of(bfloat16) == "bfloat16"
    outputs = bfloat16.serving_outputs(images, info)
    assert outputs["detection_boxes"].dtype == tf.float32
    assert outputs["detection_masks"].shape == (2, 10, 28, 28)


def test_cascade_config_errors_name_what_is_wrong(synthetic_data):
    with pytest.raises(ConfigError, match=r"model.cascade_iou_thresholds takes at most 2"):
        load_config(CONFIG, ["model.cascade_iou_thresholds=[0.6, 0.7, 0.8]"])
    with pytest.raises(ConfigError, match=r"model.class_agnostic_boxes must be true"):
        load_config(CONFIG, ["model.class_agnostic_boxes=false"])
    with pytest.raises(ConfigError, match=r"model.cascade_iou_thresholds must lie in \(0, 1\]"):
        load_config(CONFIG, ["model.cascade_iou_thresholds=[1.5]"])
    config = load_config(CONFIG, ["model.cascade_iou_thresholds=[]",
                                  "model.class_agnostic_boxes=false"])
    assert config.model.build().num_stages == 1  # a Mask R-CNN, as Model Garden allows
