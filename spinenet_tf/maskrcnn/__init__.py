"""Mask R-CNN on SpineNet, equal to tf-models-official's: the network
(heads, proposals, ROI align, detections, masks) and its training targets
and losses (RPN labeler, ROI and mask samplers, the five losses). Data with
masks, the task, export and the model-zoo readers are still to come
(docs/instance_segmentation.md)."""

from spinenet_tf.maskrcnn.box_head import BoxHead
from spinenet_tf.maskrcnn.detection_generator import DetectionGenerator
from spinenet_tf.maskrcnn.mask_head import MaskHead
from spinenet_tf.maskrcnn.mask_sampler import MaskSampler
from spinenet_tf.maskrcnn.maskrcnn import MaskRCNN
from spinenet_tf.maskrcnn.maskrcnn_loss import MaskRCNNLoss
from spinenet_tf.maskrcnn.roi_aligner import MultilevelROIAligner
from spinenet_tf.maskrcnn.roi_generator import MultilevelROIGenerator, ProposalSettings
from spinenet_tf.maskrcnn.roi_sampler import ROISampler
from spinenet_tf.maskrcnn.rpn_head import RPNHead
from spinenet_tf.maskrcnn.rpn_labeler import RPNLabeler
from spinenet_tf.maskrcnn.sampling_settings import SamplingSettings

__all__ = ["BoxHead", "DetectionGenerator", "MaskHead", "MaskRCNN", "MaskRCNNLoss",
           "MaskSampler", "MultilevelROIAligner", "MultilevelROIGenerator", "ProposalSettings",
           "ROISampler", "RPNHead", "RPNLabeler", "SamplingSettings"]
