"""RetinaNet's detection machinery: anchors, box coding, targets, loss, NMS."""

from spinenet_tf.detection.anchor_generator import AnchorGenerator, flatten_multilevel
from spinenet_tf.detection.anchor_labeler import AnchorLabeler
from spinenet_tf.detection.box_ops import (
    box_iou,
    clip_boxes,
    decode_boxes,
    encode_boxes,
)
from spinenet_tf.detection.detection_decoder import DetectionDecoder
from spinenet_tf.detection.retinanet_loss import RetinaNetLoss
from spinenet_tf.detection.tflite_post_process import (
    TFLitePostProcessConfig,
    tflite_detection_post_process,
)

__all__ = [
    "AnchorGenerator",
    "AnchorLabeler",
    "DetectionDecoder",
    "RetinaNetLoss",
    "TFLitePostProcessConfig",
    "box_iou",
    "clip_boxes",
    "decode_boxes",
    "encode_boxes",
    "flatten_multilevel",
    "tflite_detection_post_process",
]
