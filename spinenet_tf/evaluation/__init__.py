"""Evaluation: COCO box AP with pycocotools, for every form of a detector
(Keras, SavedModel, TFLite) through one function, `evaluate_detector`."""

from spinenet_tf.evaluation.coco_metrics import METRIC_NAMES, coco_metrics
from spinenet_tf.evaluation.detection_evaluation import (
    evaluate_detector,
    keras_detect,
    serving_function,
)

__all__ = ["METRIC_NAMES", "coco_metrics", "evaluate_detector", "keras_detect",
           "serving_function"]
