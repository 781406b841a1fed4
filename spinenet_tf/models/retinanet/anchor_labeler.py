"""Training targets for every anchor: IoU matching as RetinaNet does it."""

from keras import ops

from spinenet_tf.ops.box_matching import gather_rows, match_boxes
from spinenet_tf.ops.box_ops import box_iou, encode_boxes


class AnchorLabeler:
    """Assigns each anchor a class and a box target from padded ground truth.

    Follows tf-models-official's `AnchorLabeler`: an anchor whose best IoU
    with a ground-truth box is >= `match_threshold` is positive, below
    `unmatched_threshold` negative, in between ignored; and every box is
    also matched to its best anchor ("force match"), so no box goes
    unassigned. Works on whole padded batches:

    * padding: boxes whose class is < 0 take no part;
    * crowd regions (`is_crowd`): never matched (the reference drops them
      in training); anchors that would have matched one
      (IoU >= `match_threshold`) are ignored instead of becoming negatives.

    Args:
        match_threshold: IoU at or above which an anchor is positive (0.5).
        unmatched_threshold: IoU below which it is negative (0.5).
    """

    def __init__(self, match_threshold=0.5, unmatched_threshold=0.5):
        if not 0.0 <= unmatched_threshold <= match_threshold <= 1.0:
            raise ValueError(
                "Need 0 <= unmatched_threshold <= match_threshold <= 1; "
                f"received unmatched_threshold={unmatched_threshold}, "
                f"match_threshold={match_threshold}.")
        self.match_threshold = float(match_threshold)
        self.unmatched_threshold = float(unmatched_threshold)

    def __call__(self, anchors, boxes, classes, is_crowd=None):
        """Labels a batch.

        Args:
            anchors: [N, 4] anchors (see `AnchorGenerator.flat_anchors`).
            boxes: [B, M, 4] ground-truth boxes, padded.
            classes: [B, M] integer classes, -1 for padding.
            is_crowd: optional [B, M] booleans (or 0 / 1 integers).

        Returns:
            A dict of `class_targets` [B, N] int32 (-1 unless positive),
            `box_targets` [B, N, 4] codes (0 unless positive),
            `class_weights` [B, N] (0 for ignored anchors, else 1) and
            `box_weights` [B, N] (1 for positive anchors, else 0).
        """
        anchors = ops.convert_to_tensor(anchors, "float32")
        boxes = ops.convert_to_tensor(boxes, "float32")
        classes = ops.cast(classes, "int32")
        if len(boxes.shape) != 3 or boxes.shape[-1] != 4 or len(classes.shape) != 2:
            raise ValueError(
                "Expected boxes [batch, max_boxes, 4] and classes "
                f"[batch, max_boxes]; received boxes {tuple(boxes.shape)}, "
                f"classes {tuple(classes.shape)}.")
        if boxes.shape[1] == 0:  # no boxes at all: one padding entry
            boxes = ops.zeros((ops.shape(boxes)[0], 1, 4), "float32")
            classes = -ops.ones((ops.shape(classes)[0], 1), "int32")
            is_crowd = None
        valid = classes >= 0
        crowd = None
        if is_crowd is not None:
            crowd = ops.logical_and(ops.cast(is_crowd, "bool"), valid)
            valid = ops.logical_and(valid, ops.logical_not(crowd))

        raw_iou = box_iou(anchors, boxes)  # [B, N, M]
        matched, _, positive, negative = match_boxes(
            raw_iou, valid, self.match_threshold, self.unmatched_threshold,
            force_match=True)

        if crowd is not None:
            crowd_iou = ops.where(
                ops.expand_dims(crowd, 1), raw_iou, 0.0)
            near_crowd = ops.max(crowd_iou, axis=-1) >= self.match_threshold
            negative = ops.logical_and(negative, ops.logical_not(near_crowd))

        matched_classes = gather_rows(classes, matched)
        codes = encode_boxes(gather_rows(boxes, matched), anchors)
        positive_f = ops.cast(positive, "float32")
        return {
            "class_targets": ops.where(positive, matched_classes, -1),
            "box_targets": ops.where(ops.expand_dims(positive, -1), codes, 0.0),
            "class_weights": ops.cast(ops.logical_or(positive, negative), "float32"),
            "box_weights": positive_f,
        }
