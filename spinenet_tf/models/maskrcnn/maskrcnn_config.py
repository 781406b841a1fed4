"""Mask R-CNN's sections of an experiment: `model:` (backbone, anchors, the
three heads, proposals, sampling, detections) and `losses:`; the one place
a Mask R-CNN is built from settings."""

import dataclasses
import typing

from spinenet_tf.config.sections import LossesConfig, ModelConfig
from spinenet_tf.models.base.two_stage_config import (
    TwoStageLosses,
    TwoStageSettings,
    build_two_stage_detector,
)
from spinenet_tf.models.maskrcnn.maskrcnn import MaskRCNN


@dataclasses.dataclass
class MaskRCNNLosses(TwoStageLosses, LossesConfig):
    """`losses:` of a Mask R-CNN: the five terms' weights and Huber deltas."""


@dataclasses.dataclass
class MaskRCNNConfig(TwoStageSettings, ModelConfig):
    """`model:` of `type: maskrcnn`: the recipe of Model Garden's
    `maskrcnn_spinenet_coco` (relu, one anchor scale, 1 x 256 RPN, 4 x 256
    box and mask heads, 1024-wide fc, class-specific boxes)."""

    type: str = "maskrcnn"
    activation: str = "relu"

    MOVED_KEYS: typing.ClassVar[typing.Dict[str, str]] = {
        "maskrcnn_options": "was the old shape (spinenet_tf <= 0.9): write its keys directly "
                            "under model: (e.g. model.box_fc_dims: 256, model.sampling: "
                            "{roi_samples_per_image: 128})",
        "head_num_convs": "is RetinaNet's; for Mask R-CNN set model.box_num_convs and "
                          "model.mask_num_convs",
        "head_num_filters": "is RetinaNet's; for Mask R-CNN set model.rpn_num_filters, "
                            "model.box_num_filters and model.mask_num_filters",
    }

    def build(self, losses=None, name=None):
        """The Mask R-CNN these settings describe, with fresh weights."""
        return build_two_stage_detector(MaskRCNN, self, losses or MaskRCNNLosses(), name)
