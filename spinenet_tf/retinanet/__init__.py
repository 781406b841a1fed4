"""RetinaNet on SpineNet: model, head, anchors, targets, loss, decoder, the
TFLite post-processing op and the papers' recipes."""

from spinenet_tf.ops.anchor_generator import AnchorGenerator, flatten_multilevel
from spinenet_tf.retinanet.anchor_labeler import AnchorLabeler
from spinenet_tf.retinanet.detection_decoder import DetectionDecoder
from spinenet_tf.retinanet.recipes import (
    RETINANET_CONFIGS, RetinaNetConfig, get_retinanet_config)
from spinenet_tf.retinanet.retinanet import RetinaNet
from spinenet_tf.retinanet.retinanet_head import RetinaNetHead
from spinenet_tf.retinanet.retinanet_loss import RetinaNetLoss
from spinenet_tf.retinanet.tflite_post_process import (
    TFLitePostProcessConfig, tflite_detection_post_process)

__all__ = [
    "AnchorGenerator",
    "AnchorLabeler",
    "DetectionDecoder",
    "RETINANET_CONFIGS",
    "RetinaNet",
    "RetinaNetConfig",
    "RetinaNetHead",
    "RetinaNetLoss",
    "TFLitePostProcessConfig",
    "flatten_multilevel",
    "get_retinanet_config",
    "tflite_detection_post_process",
]
