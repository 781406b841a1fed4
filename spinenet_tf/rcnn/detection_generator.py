"""Mask R-CNN's final detections: class-specific boxes of the ROIs, per-class NMS."""

from keras import ops

from spinenet_tf.ops.box_ops import clip_boxes, decode_boxes
from spinenet_tf.ops.nms import per_class_nms

# The box head's codes are scaled by these (dy, dx, dh, dw) weights, as in
# the reference's first (and only, without cascade) stage.
BOX_CODER_WEIGHTS = (10.0, 10.0, 5.0, 5.0)


class DetectionGenerator:
    """The box head's outputs on the ROIs -> the standard four detection
    tensors, as tf-models-official's `DetectionGenerator` ("v2") makes them.

    Softmax class scores, background (class 0) dropped; each class's box
    decoded from the ROI with `box_coder_weights` and clipped to the image;
    per class the `pre_nms_top_k` best, scores at or below
    `pre_nms_score_threshold` dropped, NMS; the `max_detections` best over
    all classes (`spinenet_tf.ops.nms.per_class_nms`).

    Call it on `(class_logits [B, R, C], box_deltas [B, R, 4C] or [B, R, 4]
    (class-agnostic), rois [B, R, 4], image_shape [B, 2])`. Returns a dict
    of `detection_boxes` [B, K, 4], `detection_scores` [B, K],
    `detection_classes` [B, K] int32 (background 0 never returned) and
    `num_detections` [B] int32; zeros past `num_detections`.
    `pixel_inclusive_boxes`: decode and clip in the TPU model zoo's box
    convention (`spinenet_tf.ops.box_ops`).
    """

    def __init__(self, pre_nms_top_k=5000, pre_nms_score_threshold=0.05,
                 nms_iou_threshold=0.5, max_detections=100,
                 box_coder_weights=BOX_CODER_WEIGHTS, pixel_inclusive_boxes=False):
        if pre_nms_top_k < 1 or max_detections < 1:
            raise ValueError("`pre_nms_top_k` and `max_detections` must be >= 1; received "
                             f"{pre_nms_top_k} and {max_detections}.")
        if not 0.0 <= nms_iou_threshold <= 1.0:
            raise ValueError(
                f"`nms_iou_threshold` must be in [0, 1]; received {nms_iou_threshold}.")
        if len(box_coder_weights) != 4 or min(box_coder_weights) <= 0:
            raise ValueError("`box_coder_weights` must be four positive numbers; received "
                             f"{box_coder_weights!r}.")
        self.pre_nms_top_k = int(pre_nms_top_k)
        self.pre_nms_score_threshold = float(pre_nms_score_threshold)
        self.nms_iou_threshold = float(nms_iou_threshold)
        self.max_detections = int(max_detections)
        self.box_coder_weights = tuple(float(w) for w in box_coder_weights)
        self.pixel_inclusive_boxes = bool(pixel_inclusive_boxes)

    def decode(self, class_logits, box_deltas, rois, image_shape):
        """Boxes [B, R, C - 1, 4] (or [B, R, 4] class-agnostic) and scores
        [B, R, C - 1] of every ROI, before NMS."""
        scores = ops.softmax(ops.cast(class_logits, "float32"), axis=-1)[..., 1:]
        num_classes = class_logits.shape[-1]
        rois = ops.cast(rois, "float32")
        box_deltas = ops.cast(box_deltas, "float32")
        if box_deltas.shape[-1] == 4:
            anchors, codes = rois, box_deltas
        else:
            codes = ops.reshape(box_deltas, (-1, box_deltas.shape[1], num_classes, 4))[:, :, 1:]
            anchors = rois[:, :, None, :]
        boxes = decode_boxes(codes, anchors, weights=self.box_coder_weights,
                             pixel_inclusive=self.pixel_inclusive_boxes)
        image_shape = ops.cast(image_shape, "float32")
        return clip_boxes(boxes, image_shape[:, 0], image_shape[:, 1],
                          pixel_inclusive=self.pixel_inclusive_boxes), scores

    def __call__(self, class_logits, box_deltas, rois, image_shape):
        boxes, scores = self.decode(class_logits, box_deltas, rois, image_shape)
        return per_class_nms(boxes, scores, self.pre_nms_top_k, self.pre_nms_score_threshold,
                             self.nms_iou_threshold, self.max_detections)
