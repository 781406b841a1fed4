"""Mask R-CNN on SpineNet: the inference network (heads, proposals, ROI
align, detections, masks), equal to tf-models-official's. Training (ROI
sampling, mask targets, losses), data, export and the model-zoo readers
are still to come (docs/instance_segmentation.md)."""

from spinenet_tf.maskrcnn.box_head import BoxHead
from spinenet_tf.maskrcnn.detection_generator import DetectionGenerator
from spinenet_tf.maskrcnn.mask_head import MaskHead
from spinenet_tf.maskrcnn.maskrcnn import MaskRCNN
from spinenet_tf.maskrcnn.roi_aligner import MultilevelROIAligner
from spinenet_tf.maskrcnn.roi_generator import MultilevelROIGenerator, ProposalSettings
from spinenet_tf.maskrcnn.rpn_head import RPNHead

__all__ = ["BoxHead", "DetectionGenerator", "MaskHead", "MaskRCNN", "MultilevelROIAligner",
           "MultilevelROIGenerator", "ProposalSettings", "RPNHead"]
