"""Tensor operations the model families share: box coding, IoU, clipping."""

from spinenet_tf.ops.box_ops import (
    box_iou,
    boxes_to_original,
    clip_boxes,
    decode_boxes,
    encode_boxes,
    yxyx_to_xywh,
)

__all__ = ["box_iou", "boxes_to_original", "clip_boxes", "decode_boxes", "encode_boxes",
           "yxyx_to_xywh"]
