"""Cascade R-CNN on SpineNet, equal to Model Garden's Cascade RCNN-RS: the
model (a `TwoStageDetector` with a cascade of box stages), its config
sections and the recipes of Model Garden's yamls (listed in the catalog,
no checkpoint released); registered as the `cascade_rcnn` family."""

from spinenet_tf import registry
from spinenet_tf.models.base.instance_segmentation_task import InstanceSegmentationTask
from spinenet_tf.models.cascade_rcnn.cascade_rcnn import CASCADE_IOU_THRESHOLDS, CascadeRCNN
from spinenet_tf.models.cascade_rcnn.cascade_rcnn_config import (
    CascadeRCNNConfig, CascadeRCNNLosses)
from spinenet_tf.models.cascade_rcnn.presets import PRESETS, YAML_SETTINGS, yaml_recipe

FAMILY = registry.register_family(registry.Family(
    name="cascade_rcnn", model_class=CascadeRCNN, config_class=CascadeRCNNConfig,
    losses_class=CascadeRCNNLosses, task_class=InstanceSegmentationTask,
    description="Cascade R-CNN: Mask R-CNN with a cascade of box stages (Cai and "
                "Vasconcelos 2018; Model Garden's Cascade RCNN-RS)",
    presets=PRESETS,
    # Parameters of tf-models-official 2.20's factory on each yaml's recipe
    # (the figures MODEL_GARDEN.md publishes; the registered experiment,
    # three stages, builds 71,106,375 on SpineNet-49).
    paper_models={
        "spinenet-49": registry.PaperModel(56_397_318, 56.4e6, settings=tuple(
            YAML_SETTINGS.items())),
        "spinenet-96": registry.PaperModel(70_862_854, 70.8e6, settings=tuple(
            YAML_SETTINGS.items()) + (("anchor_size", 4.0),)),
        "spinenet-143": registry.PaperModel(94_891_014, 94.9e6, settings=tuple(
            YAML_SETTINGS.items()) + (("anchor_size", 4.0),))}))

__all__ = ["CASCADE_IOU_THRESHOLDS", "CascadeRCNN", "CascadeRCNNConfig", "CascadeRCNNLosses",
           "FAMILY", "yaml_recipe"]
