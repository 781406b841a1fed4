"""The parts of two-stage (R-CNN) detectors that Mask R-CNN and Cascade
R-CNN share, each equal to tf-models-official's: the region proposal head
and its anchor labeler, proposals, ROI align, the ROI and mask samplers,
the box (detection) and mask heads, the detection generator and the losses.
No model family lives here; the families build their models from these."""

from spinenet_tf.rcnn.box_head import BoxHead
from spinenet_tf.rcnn.detection_generator import DetectionGenerator
from spinenet_tf.rcnn.mask_head import MaskHead
from spinenet_tf.rcnn.mask_sampler import MaskSampler
from spinenet_tf.rcnn.rcnn_losses import RCNNLoss
from spinenet_tf.rcnn.roi_aligner import MultilevelROIAligner
from spinenet_tf.rcnn.roi_generator import MultilevelROIGenerator, ProposalSettings
from spinenet_tf.rcnn.roi_sampler import ROISampler
from spinenet_tf.rcnn.rpn_head import RPNHead
from spinenet_tf.rcnn.rpn_labeler import RPNLabeler
from spinenet_tf.rcnn.sampling_settings import SamplingSettings

__all__ = ["BoxHead", "DetectionGenerator", "MaskHead", "MaskSampler", "MultilevelROIAligner",
           "MultilevelROIGenerator", "ProposalSettings", "RCNNLoss", "ROISampler", "RPNHead",
           "RPNLabeler", "SamplingSettings"]
