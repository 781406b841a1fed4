"""Mask R-CNN on SpineNet, equal to tf-models-official's: the model (a
`TwoStageDetector` with one box stage), its config sections, the TPU
model zoo's presets and their checkpoint names; registered as the
`maskrcnn` family."""

from spinenet_tf import registry
from spinenet_tf.models.base.instance_segmentation_task import InstanceSegmentationTask
from spinenet_tf.models.maskrcnn import checkpoint_names
from spinenet_tf.models.maskrcnn.maskrcnn import MaskRCNN
from spinenet_tf.models.maskrcnn.maskrcnn_config import MaskRCNNConfig, MaskRCNNLosses
from spinenet_tf.models.maskrcnn.presets import PRESETS

FAMILY = registry.register_family(registry.Family(
    name="maskrcnn", model_class=MaskRCNN, config_class=MaskRCNNConfig,
    losses_class=MaskRCNNLosses, task_class=InstanceSegmentationTask,
    description="Mask R-CNN: two-stage detector with instance masks (He et al. 2017)",
    presets=PRESETS, model_zoo_names=checkpoint_names.model_zoo_names,
    # tf-models-official 2.20's `maskrcnn_spinenet_coco` (91 classes, the
    # recipe's anchors and heads); MODEL_GARDEN.md's parameters.
    paper_models={"spinenet-49": registry.PaperModel(40_851_441, 40.8e6),
                  "spinenet-96": registry.PaperModel(55_316_977, 55.2e6),
                  "spinenet-143": registry.PaperModel(79_345_137, 79.2e6)}))

__all__ = ["FAMILY", "MaskRCNN", "MaskRCNNConfig", "MaskRCNNLosses"]
