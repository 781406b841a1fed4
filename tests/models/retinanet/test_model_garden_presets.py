"""Model Garden's TF2 SpineNet RetinaNets in the catalog: their recipes,
their key tables against our full-size models, and a checkpoint written by
Model Garden's own trainer (`official.core.base_trainer.Trainer`'s
checkpoint: global step, model, optimizer and its modules) for the
SpineNet-49 recipe, scaled down to 128 px (the same variables), loading
through the key reader into the preset's model with Model Garden's
outputs."""

import warnings

import numpy as np
import pytest
import tensorflow as tf

from spinenet_tf import registry
from spinenet_tf.models.retinanet import RetinaNet
from spinenet_tf.pretrained import MODEL_GARDEN_TF2, build_preset_model
from spinenet_tf.pretrained.model_garden_checkpoint import LAYOUTS, model_garden_names
from spinenet_tf.pretrained.preset_check import PresetFileWarning

MODEL_GARDEN_RETINANETS = {  # MODEL_GARDEN.md "RetinaNet (Trained from scratch)"
    "retinanet-spinenet-49-i640": ("spinenet-49", 640, 44.2),
    "retinanet-spinenet-96-i1024": ("spinenet-96", 1024, 48.5),
    "retinanet-spinenet-143-i1280": ("spinenet-143", 1280, 50.0),
}


def test_model_gardens_tf2_retinanets_are_in_the_catalog():
    for name, (variant, size, ap) in MODEL_GARDEN_RETINANETS.items():
        preset = registry.get_preset(name)
        assert (preset.source, preset.variant, preset.image_size, preset.published) == (
            MODEL_GARDEN_TF2, variant, size, ap)
        assert preset.url.endswith(f"/spinenet/{variant}-i{size}.tar.gz")
        assert preset.total_steps == 231000  # 500 epochs of 462 steps
        model = preset.model
        assert (model.activation, model.init_stochastic_depth_rate, model.flavor) == (
            "swish", 0.2, "model_garden")


@pytest.mark.parametrize("name", ["retinanet-spinenet-96-i1024", "retinanet-spinenet-143-i1280"])
def test_key_table_covers_the_full_size_recipe(name):
    """Every variable of the preset's model has its own key (the table was
    recorded from Model Garden's model of the recipe; 49's is read from a
    checkpoint below)."""
    model = build_preset_model(name, image_size=128)  # the variables of any size
    names = model_garden_names(model, LAYOUTS["trainer"])
    assert len(names) == len(model.weights) == len({id(v) for v in names.values()})


@pytest.mark.reference
@pytest.mark.slow
def test_a_checkpoint_written_by_model_gardens_trainer_loads(tmp_path):
    pytest.importorskip("official")
    from official.core import base_trainer, exp_factory
    from official.vision.tasks import retinanet as retinanet_task

    from support import model_garden_class_outputs, randomize_batch_norm

    experiment = exp_factory.get_exp_config("retinanet_spinenet_coco")  # SpineNet-49
    experiment.task.model.input_size = [128, 128, 3]
    experiment.task.model.norm_activation.use_sync_bn = False
    task = retinanet_task.RetinaNetTask(experiment.task)
    reference = task.build_model()
    images = np.random.default_rng(0).uniform(-2, 2, (1, 128, 128, 3)).astype("float32")
    model_garden_class_outputs(reference, images)  # builds the head
    randomize_batch_norm(reference, 2)
    rng = np.random.default_rng(1)
    for weight in reference.head.weights:  # the predictors too, not their constants
        if "kernel" in weight.name or "bias" in weight.name:
            weight.assign(rng.normal(0, 0.05, weight.shape).astype("float32"))
    optimizer = task.create_optimizer(experiment.trainer.optimizer_config)
    trainer = base_trainer.Trainer(experiment, task, reference, optimizer, train=False,
                                   evaluate=False)
    trainer.global_step.assign(231000)
    trainer.checkpoint.save(str(tmp_path / "ckpt"))
    expected = model_garden_class_outputs(reference, images)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PresetFileWarning)  # its step is the preset's
        ours = RetinaNet.from_preset("retinanet-spinenet-49-i640", path=str(tmp_path),
                                     image_size=128)
    report = ours.pretrained_report
    assert report["loaded"] == len(ours.weights) and not report["warnings"]
    assert set(report["skipped"]) <= {"optimizer state", "step counter", "object graph"}
    outputs = ours(tf.constant(images), training=False)["class_logits"]
    for level in range(3, 8):
        theirs = np.asarray(expected[str(level)])
        np.testing.assert_allclose(outputs[f"P{level}"], theirs, rtol=1e-4,
                                   atol=1e-4 * np.abs(theirs).max())
