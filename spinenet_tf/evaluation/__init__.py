"""Evaluation: COCO box AP with pycocotools."""

from spinenet_tf.evaluation.coco_metrics import (
    METRIC_NAMES, coco_metrics, collect_detections, serving_function)

__all__ = ["METRIC_NAMES", "coco_metrics", "collect_detections", "serving_function"]
