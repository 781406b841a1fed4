"""Box arithmetic in `keras.ops`: IoU, anchor-relative coding, clipping,
COCO conversion and the mapping back to the original image (the one copy
of each in the package).

Boxes are `(ymin, xmin, ymax, xmax)` in pixels; codes are
`(dy, dx, dh, dw)` relative to an anchor, as in tf-models-official's
`box_ops` (Faster R-CNN coding without scale factors by default).
"""

import math

from keras import ops

# Largest log-scale a decoded box may grow by, as in the reference.
BBOX_XFORM_CLIP = math.log(1000.0 / 16.0)
EPSILON = 1e-8


# The TPU model zoo's boxes (tensorflow/tpu's `box_utils`) count pixels
# inclusively: [ymin, xmin, ymax, xmax] covers rows ymin..ymax, so a box is
# ymax - ymin + 1 high in box coding and boxes clip to size - 1. Model
# Garden's (the default here) are continuous: ymax - ymin high, clipped to
# size. `pixel_inclusive=True` selects the TPU convention.


def _center_size(boxes, pixel_inclusive=False):
    ymin, xmin, ymax, xmax = ops.unstack(boxes, 4, axis=-1)
    extra = 1.0 if pixel_inclusive else 0.0
    height = ymax - ymin + extra
    width = xmax - xmin + extra
    return ymin + 0.5 * height, xmin + 0.5 * width, height, width


def encode_boxes(boxes, anchors, weights=None, pixel_inclusive=False):
    """Codes `boxes` relative to `anchors` (broadcastable shapes [..., 4])."""
    boxes = ops.convert_to_tensor(boxes, "float32")
    anchors = ops.convert_to_tensor(anchors, "float32")
    yc, xc, h, w = _center_size(boxes, pixel_inclusive)
    ayc, axc, ah, aw = _center_size(anchors, pixel_inclusive)
    if not pixel_inclusive:
        ah, aw, h, w = ah + EPSILON, aw + EPSILON, h + EPSILON, w + EPSILON
    codes = [(yc - ayc) / ah, (xc - axc) / aw, ops.log(h / ah), ops.log(w / aw)]
    if weights:
        codes = [c * s for c, s in zip(codes, weights)]
    return ops.stack(codes, axis=-1)


def decode_boxes(codes, anchors, weights=None, pixel_inclusive=False):
    """Inverse of `encode_boxes`; log-scales are clipped at BBOX_XFORM_CLIP."""
    codes = ops.convert_to_tensor(codes, "float32")
    anchors = ops.convert_to_tensor(anchors, "float32")
    dy, dx, dh, dw = ops.unstack(codes, 4, axis=-1)
    if weights:
        dy, dx, dh, dw = (c / s for c, s in zip((dy, dx, dh, dw), weights))
    dh = ops.minimum(dh, BBOX_XFORM_CLIP)
    dw = ops.minimum(dw, BBOX_XFORM_CLIP)
    ayc, axc, ah, aw = _center_size(anchors, pixel_inclusive)
    yc = dy * ah + ayc
    xc = dx * aw + axc
    h = ops.exp(dh) * ah
    w = ops.exp(dw) * aw
    ymin = yc - 0.5 * h
    xmin = xc - 0.5 * w
    extra = 1.0 if pixel_inclusive else 0.0
    return ops.stack([ymin, xmin, ymin + h - extra, xmin + w - extra], axis=-1)


def clip_boxes(boxes, height, width, pixel_inclusive=False):
    """Clips boxes to `[0, height] x [0, width]` (scalars or per-batch [B]);
    `[0, height - 1] x [0, width - 1]` with `pixel_inclusive`."""
    extra = 1.0 if pixel_inclusive else 0.0
    height = ops.cast(height, boxes.dtype) - extra
    width = ops.cast(width, boxes.dtype) - extra
    limits = ops.stack([height, width, height, width], axis=-1)
    while len(limits.shape) < len(boxes.shape):
        limits = ops.expand_dims(limits, -2)
    return ops.maximum(ops.minimum(boxes, limits), 0.0)


def box_area(boxes):
    ymin, xmin, ymax, xmax = ops.unstack(boxes, 4, axis=-1)
    return (ymax - ymin) * (xmax - xmin)


def box_iou(boxes_a, boxes_b):
    """Pairwise IoU: [..., N, 4] x [..., M, 4] -> [..., N, M].

    Zero where boxes do not intersect (also for empty boxes), as in the
    reference.
    """
    boxes_a = ops.convert_to_tensor(boxes_a, "float32")
    boxes_b = ops.convert_to_tensor(boxes_b, "float32")
    a = ops.expand_dims(boxes_a, -2)
    b = ops.expand_dims(boxes_b, -3)
    heights = ops.minimum(a[..., 2], b[..., 2]) - ops.maximum(a[..., 0], b[..., 0])
    widths = ops.minimum(a[..., 3], b[..., 3]) - ops.maximum(a[..., 1], b[..., 1])
    intersection = ops.maximum(heights, 0.0) * ops.maximum(widths, 0.0)
    union = (ops.expand_dims(box_area(boxes_a), -1)
             + ops.expand_dims(box_area(boxes_b), -2) - intersection)
    return ops.where(intersection == 0.0, 0.0,
                     ops.divide_no_nan(intersection, union))


def yxyx_to_xywh(boxes):
    """(ymin, xmin, ymax, xmax) -> COCO's (x, y, width, height)."""
    ymin, xmin, ymax, xmax = ops.unstack(ops.convert_to_tensor(boxes, "float32"), 4, axis=-1)
    return ops.stack([xmin, ymin, xmax - xmin, ymax - ymin], axis=-1)


def boxes_to_original(boxes, image_info):
    """Boxes [B, N, 4] in model-input pixels -> pixels of each original
    image (`image_info` [B, 4, 2] of `ImagePreprocessor`), clipped to it."""
    image_info = ops.convert_to_tensor(image_info, "float32")
    original, scale, offset = image_info[:, 0], image_info[:, 2], image_info[:, 3]
    boxes = (ops.convert_to_tensor(boxes, "float32") + ops.expand_dims(
        ops.tile(offset, [1, 2]), 1)) / ops.expand_dims(ops.tile(scale, [1, 2]), 1)
    return ops.minimum(ops.maximum(boxes, 0.0),
                       ops.expand_dims(ops.tile(original, [1, 2]), 1))


def detections_to_original(detections, image_info):
    """A detections dict with `detection_boxes` mapped to each original
    image (`boxes_to_original`) and zeroed past `num_detections`."""
    boxes = boxes_to_original(detections["detection_boxes"], image_info)
    valid = (ops.expand_dims(ops.arange(ops.shape(boxes)[1]), 0)
             < ops.expand_dims(detections["num_detections"], 1))
    return dict(detections, detection_boxes=ops.where(ops.expand_dims(valid, -1), boxes, 0.0))
