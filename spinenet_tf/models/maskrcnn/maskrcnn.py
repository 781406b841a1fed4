"""Mask R-CNN on a SpineNet (or any multi-level) backbone."""

import keras

from spinenet_tf.models.base.two_stage_detector import TwoStageDetector


@keras.saving.register_keras_serializable(package="spinenet_tf")
class MaskRCNN(TwoStageDetector):
    """Mask R-CNN (He et al. 2017), tf-models-official's `MaskRCNNModel`
    with one box stage: RPN, proposals, ROI align, a box head with
    class-specific boxes, per-class NMS and a mask head on the detections.

    The network, its training targets, losses and outputs are
    `TwoStageDetector`'s (see there for the arguments, the outputs and how
    it trains on dicts of images and ground truth). The papers' models:
    `MaskRCNN.from_variant("spinenet-49")` (Model Garden's
    `maskrcnn_spinenet_coco` recipe); the TPU model zoo's published ones:
    `MaskRCNN.from_preset("maskrcnn-spinenet-49")`.
    """

    default_name = "maskrcnn"
