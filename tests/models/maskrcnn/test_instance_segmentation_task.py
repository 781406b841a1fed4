"""Mask R-CNN through the project's trainer (`model.type: maskrcnn`), and
COCO mask AP through the one evaluation path."""

import json
import os

import numpy as np
import pytest
from support import ROOT, SHORT_MOBILE_BLOCK_SPECS

from spinenet_tf.config import ConfigError, load_config
from spinenet_tf.models.base import task_for_config

CONFIG = os.path.join(ROOT, "configs", "maskrcnn_mobile_synthetic.yaml")


def small_config(data, steps=4, every=2):
    overrides = [
        f"model.block_specs={json.dumps(SHORT_MOBILE_BLOCK_SPECS)}",
        "model.box_num_convs=1", "model.mask_num_convs=1", "model.rpn_num_filters=8",
        "model.box_num_filters=8", "model.mask_num_filters=8", "model.box_fc_dims=32",
        "model.train_proposals={num_proposals: 64}", "model.test_proposals={num_proposals: 64}",
        "model.sampling={roi_samples_per_image: 32, mask_samples_per_image: 8}",
        "model.max_detections=10",
        "train_data.batch_size=2", "eval_data.batch_size=4",
        f"trainer.train_steps={steps}", f"trainer.checkpoint_every={every}",
        "optimizer.boundaries=[]", "optimizer.values=[0.002]", "optimizer.warmup_steps=0"]
    for split, key in (("train", "train_data"), ("val", "eval_data")):
        overrides += [f"{key}.annotations={os.path.join(data, split, 'annotations.json')}",
                      f"{key}.image_dir={os.path.join(data, split, 'images')}"]
    return load_config(CONFIG, overrides)


@pytest.mark.slow
def test_trainer_trains_evaluates_and_draws_maskrcnn(synthetic_data, tmp_path):
    """Training data from TFRecords with masks (Model Garden's schema, as
    `spinenet-coco-to-tfrecord --include_masks` writes them), evaluation
    on the COCO folder."""
    import tensorflow as tf

    from spinenet_tf.data.coco import load_coco
    from spinenet_tf.data.tfrecords import write_tfrecords
    from spinenet_tf.training.trainer import Trainer

    config = small_config(synthetic_data)
    train = config.train_data
    records = write_tfrecords(load_coco(train.annotations, train.image_dir, with_masks=True),
                              str(tmp_path / "records" / "train"))
    train.source, train.file_pattern = "tfrecord", records[0]
    train.annotations = train.image_dir = None
    results = Trainer(config, str(tmp_path), tf.distribute.get_strategy(), verbose=0).run()
    assert results["step"] == 4 and results["evaluated_images"] == 4
    for name in ("AP", "AP50", "mask_AP", "mask_AP50"):
        assert 0.0 <= results[name] <= 1.0
    log = json.load(open(tmp_path / "training_log.json"))
    assert [entry["step"] for entry in log] == [2, 4]
    assert {"rpn_score_loss", "mask_loss", "frcnn_class_loss"} <= set(log[-1])
    for name in ("detections.png", "curves.png", "model.keras", "metrics.json"):
        assert (tmp_path / name).exists(), name

    # What export_saved_model.py does with the folder: model.keras and the
    # latest checkpoint, folded, behind the serving signatures.
    from spinenet_tf import inference_model
    from spinenet_tf.export import export_saved_model
    from spinenet_tf.training.checkpoints import load_model_dir

    model, checkpoint = load_model_dir(str(tmp_path))
    assert checkpoint.endswith("ckpt-4")
    path = export_saved_model(inference_model(model), str(tmp_path / "export"))
    outputs = tf.saved_model.load(path).signatures["serving_default"](
        images=tf.zeros((1, 100, 90, 3), tf.uint8))
    assert outputs["detection_masks"].shape == (1, 10, 28, 28)


def test_maskrcnn_task_errors_name_what_is_wrong(synthetic_data):
    with pytest.raises(ConfigError, match=r"model.box_fc_dim is not a setting "
                       r"\(did you mean 'box_fc_dims'\?\)"):
        load_config(CONFIG, ["model.box_fc_dim=8"])
    with pytest.raises(ConfigError, match=r"model.maskrcnn_options was the old shape .*"
                       r"write its keys directly under model:"):
        load_config(CONFIG, ["model.maskrcnn_options={box_fc_dims: 8}"])
    with pytest.raises(ConfigError, match=r"model.head_num_convs is RetinaNet's; for Mask "
                       r"R-CNN set model.box_num_convs and model.mask_num_convs"):
        load_config(CONFIG, ["model.head_num_convs=2"])
    with pytest.raises(ConfigError, match=r"model.quantization_aware is a setting of the "
                       r"retinanet family, not of model.type 'maskrcnn'"):
        load_config(CONFIG, ["model.quantization_aware=true"])
    config = small_config(synthetic_data)
    with pytest.raises(ValueError, match="a TFLite file \\(int8\\) is not built for it"):
        task_for_config(config).check_export(tflite="int8")
    task_for_config(config).check_export(tflite=None)  # the SavedModel is
    config.eval_data.source, config.eval_data.file_pattern = "tfrecord", "records/*"
    with pytest.raises(ValueError, match="eval_data is a 'tfrecord' source"):
        task_for_config(config).check_data()


def test_ground_truth_as_detections_scores_full_box_and_mask_ap(synthetic_data):
    """A detect function that returns the evaluation targets themselves
    (boxes, and masks averaged down to 28 x 28) scores box AP 1 and, after
    pasting, mask AP50 1 (mask AP near 1: the 28 x 28 masks are resampled)."""
    from spinenet_tf.layers import ImagePreprocessor
    from spinenet_tf.ops.box_ops import boxes_to_original

    task = task_for_config(small_config(synthetic_data))

    class Model:  # what the evaluation pipeline asks of a model
        preprocessor = ImagePreprocessor((128, 128))

    evaluation = task.evaluation_data(Model())
    targets_of = {}
    for _, targets, _ in evaluation.dataset:
        for b, image_id in enumerate(np.asarray(targets["image_id"])):
            targets_of[int(image_id)] = {k: np.asarray(v)[b] for k, v in targets.items()}
    order = iter(sorted(targets_of))

    def detect(images, image_info):
        batch = [targets_of[next(order)] for _ in range(len(images))]
        boxes = np.stack([t["boxes"] for t in batch])
        masks = np.stack([t["masks"] for t in batch])  # [B, M, 112, 112]
        return {
            "detection_boxes": np.asarray(boxes_to_original(boxes, image_info)),
            "detection_scores": np.stack([(t["classes"] > 0) * 0.9 for t in batch]),
            "detection_classes": np.stack([np.maximum(t["classes"], 0) for t in batch]),
            "num_detections": np.array([int((t["classes"] > 0).sum()) for t in batch]),
            "detection_masks": masks.reshape(masks.shape[:2] + (28, 4, 28, 4)).mean((3, 5))}

    metrics = evaluation.evaluate(detect, progress=False)
    assert metrics["AP"] == pytest.approx(1.0)
    assert metrics["mask_AP50"] == pytest.approx(1.0)
    assert metrics["mask_AP"] > 0.8
