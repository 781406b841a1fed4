"""Cascade R-CNN on a SpineNet (or any multi-level) backbone."""

import keras

from spinenet_tf.models.base.two_stage_detector import TwoStageDetector

# Model Garden's registered `cascadercnn_spinenet_coco`: stages at IoU 0.5
# (the first sampler's), 0.6 and 0.7.
CASCADE_IOU_THRESHOLDS = (0.6, 0.7)


@keras.saving.register_keras_serializable(package="spinenet_tf")
class CascadeRCNN(TwoStageDetector):
    """Cascade R-CNN (Cai and Vasconcelos 2018) as Model Garden's Cascade
    RCNN-RS builds it: Mask R-CNN's network with a cascade of box stages.

    Each stage after the first takes the previous stage's class-agnostic
    boxes as its ROIs and is trained on targets at a higher IoU
    (`cascade_iou_thresholds`; the first stage's is the sampler's 0.5), with
    larger box coder weights; the detections are scored by the mean of all
    stages' class logits (`class_ensemble`) and boxed by the last stage; the
    mask head runs on the last stage's ROIs in training and on the
    detections in inference.

    The arguments, outputs and training are `TwoStageDetector`'s; the
    defaults here are the cascade's. The papers' models:
    `CascadeRCNN.from_variant("spinenet-49")` (the registered experiment's
    recipe) or with a yaml's settings (`presets.py`, docs).
    """

    default_name = "cascade_rcnn"

    def __init__(self, backbone, num_classes, *,
                 cascade_iou_thresholds=CASCADE_IOU_THRESHOLDS, class_ensemble=True,
                 class_agnostic_boxes=True, **kwargs):
        super().__init__(backbone, num_classes, cascade_iou_thresholds=cascade_iou_thresholds,
                         class_ensemble=class_ensemble,
                         class_agnostic_boxes=class_agnostic_boxes, **kwargs)
