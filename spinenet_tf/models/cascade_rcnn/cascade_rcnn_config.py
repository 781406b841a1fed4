"""Cascade R-CNN's sections of an experiment: `model:` (Mask R-CNN's keys
and the cascade's) and `losses:`; the one place a Cascade R-CNN is built
from settings."""

import dataclasses
import typing

from spinenet_tf.config.fields import ConfigError
from spinenet_tf.config.sections import LossesConfig, ModelConfig
from spinenet_tf.models.base.two_stage_config import (
    TwoStageLosses,
    TwoStageSettings,
    build_two_stage_detector,
)
from spinenet_tf.models.base.two_stage_detector import STAGE_BOX_CODER_WEIGHTS
from spinenet_tf.models.cascade_rcnn.cascade_rcnn import CASCADE_IOU_THRESHOLDS, CascadeRCNN


@dataclasses.dataclass
class CascadeRCNNLosses(TwoStageLosses, LossesConfig):
    """`losses:` of a Cascade R-CNN: Mask R-CNN's, the box head's two terms
    averaged over the stages."""


@dataclasses.dataclass
class CascadeRCNNConfig(TwoStageSettings, ModelConfig):
    """`model:` of `type: cascade_rcnn`: tf-models-official's registered
    `cascadercnn_spinenet_coco` (swish, class-agnostic boxes, stages at IoU
    0.5 / 0.6 / 0.7, the class ensemble, masks) on Mask R-CNN's recipe."""

    type: str = "cascade_rcnn"
    activation: str = "swish"
    class_agnostic_boxes: bool = True
    # The foreground IoU of each stage after the first (the first stage's
    # is sampling.roi_foreground_iou_threshold).
    cascade_iou_thresholds: typing.List[float] = dataclasses.field(
        default_factory=lambda: list(CASCADE_IOU_THRESHOLDS))
    # Detections scored by the mean of every stage's class logits.
    class_ensemble: bool = True

    MOVED_KEYS: typing.ClassVar[typing.Dict[str, str]] = {
        "head_num_convs": "is RetinaNet's; for Cascade R-CNN set model.box_num_convs and "
                          "model.mask_num_convs",
        "head_num_filters": "is RetinaNet's; for Cascade R-CNN set model.rpn_num_filters, "
                            "model.box_num_filters and model.mask_num_filters",
    }

    def validate(self, where, experiment):
        super().validate(where, experiment)
        most = len(STAGE_BOX_CODER_WEIGHTS) - 1
        if len(self.cascade_iou_thresholds) > most:
            raise ConfigError(f"{where}: model.cascade_iou_thresholds takes at most {most} "
                              f"IoUs (the reference's box coder weights cover "
                              f"{most + 1} stages); received {self.cascade_iou_thresholds}.")
        if any(not 0.0 < t <= 1.0 for t in self.cascade_iou_thresholds):
            raise ConfigError(f"{where}: model.cascade_iou_thresholds must lie in (0, 1]; "
                              f"received {self.cascade_iou_thresholds}.")
        if self.cascade_iou_thresholds and not self.class_agnostic_boxes:
            raise ConfigError(f"{where}: a cascade refines one box per ROI: "
                              "model.class_agnostic_boxes must be true with "
                              "model.cascade_iou_thresholds.")

    def detector_arguments(self, losses):
        return dict(super().detector_arguments(losses),
                    cascade_iou_thresholds=tuple(self.cascade_iou_thresholds),
                    class_ensemble=self.class_ensemble)

    def build(self, losses=None, name=None):
        """The Cascade R-CNN these settings describe, with fresh weights."""
        return build_two_stage_detector(CascadeRCNN, self, losses or CascadeRCNNLosses(), name)
