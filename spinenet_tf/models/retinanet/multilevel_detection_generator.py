"""RetinaNet's post-processing: decode boxes, per-class NMS, top detections."""

from keras import ops

from spinenet_tf.ops.anchor_generator import flatten_multilevel
from spinenet_tf.ops.box_ops import clip_boxes, decode_boxes
from spinenet_tf.ops.nms import per_class_nms


class MultilevelDetectionGenerator:
    """Turns raw head outputs into the standard four detection tensors.

    Same semantics as tf-models-official's `MultilevelDetectionGenerator`
    (NMS "v2", its default): sigmoid scores, class 0 (background) dropped,
    boxes decoded from their anchors and clipped to the image, the
    `pre_nms_top_k` best anchors kept per class, scores below
    `pre_nms_score_threshold` dropped, per-class NMS, then the
    `max_detections` best over all classes. NMS itself is TensorFlow's
    (`spinenet_tf.ops.nms.per_class_nms`: Keras has no NMS op), the whole
    batch in one op.

    Returns (from `__call__`) a dict of
    `detection_boxes` [B, K, 4] (ymin, xmin, ymax, xmax in pixels),
    `detection_scores` [B, K] sorted descending, `detection_classes`
    [B, K] int32 (class ids, background is 0 and never returned) and
    `num_detections` [B] int32; entries past `num_detections` are zero.
    `pixel_inclusive_boxes`: decode and clip in the TPU model zoo's box
    convention (`spinenet_tf.ops.box_ops`).
    """

    def __init__(self, pre_nms_top_k=5000, pre_nms_score_threshold=0.05,
                 nms_iou_threshold=0.5, max_detections=100, pixel_inclusive_boxes=False):
        if pre_nms_top_k < 1 or max_detections < 1:
            raise ValueError(
                "`pre_nms_top_k` and `max_detections` must be >= 1; received "
                f"{pre_nms_top_k} and {max_detections}.")
        if not 0.0 <= nms_iou_threshold <= 1.0:
            raise ValueError(
                f"`nms_iou_threshold` must be in [0, 1]; received {nms_iou_threshold}.")
        self.pre_nms_top_k = int(pre_nms_top_k)
        self.pre_nms_score_threshold = float(pre_nms_score_threshold)
        self.nms_iou_threshold = float(nms_iou_threshold)
        self.max_detections = int(max_detections)
        self.pixel_inclusive_boxes = bool(pixel_inclusive_boxes)

    def decode(self, class_logits, box_deltas, anchors, image_size=None):
        """Decoded boxes [B, N, 4] and foreground scores [B, N, C - 1].

        `class_logits` / `box_deltas` are the head's per-level dicts,
        `anchors` the matching [N, 4] array; `image_size` (height, width)
        clips the boxes.
        """
        level = min(box_deltas, key=lambda key: int(str(key).lstrip("P")))
        anchors_per_location = box_deltas[level].shape[-1] // 4
        num_classes = class_logits[level].shape[-1] // anchors_per_location
        boxes = flatten_multilevel(box_deltas, 4)
        scores = ops.sigmoid(ops.cast(
            flatten_multilevel(class_logits, num_classes), "float32"))[..., 1:]
        inclusive = self.pixel_inclusive_boxes
        boxes = decode_boxes(boxes, ops.expand_dims(anchors, 0), pixel_inclusive=inclusive)
        if image_size is not None:
            boxes = clip_boxes(boxes, *image_size, pixel_inclusive=inclusive)
        return boxes, scores

    def __call__(self, class_logits, box_deltas, anchors, image_size=None):
        boxes, scores = self.decode(class_logits, box_deltas, anchors, image_size)
        return per_class_nms(boxes, scores, self.pre_nms_top_k, self.pre_nms_score_threshold,
                             self.nms_iou_threshold, self.max_detections)
