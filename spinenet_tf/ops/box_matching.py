"""IoU matching of rows (anchors, proposals) to padded ground-truth boxes:
the one copy of tf-models-official's `BoxMatcher` rules in the package,
used by RetinaNet's anchor labeler, the RPN's and the ROI sampler."""

from keras import ops


def match_boxes(iou, valid_columns, positive_threshold, negative_threshold,
                negative_floor=None, force_match=False):
    """Each row's best column, and whether it is positive or negative.

    A row whose best IoU is >= `positive_threshold` is positive; one whose
    best IoU is in [`negative_floor`, `negative_threshold`) is negative
    (`negative_floor=None`: no lower bound); anything else is neither
    (ignored, or invalid when no column is valid: its best IoU is -1). With
    `force_match`, every valid column also claims its best row, which
    becomes positive; a row claimed by several columns takes the first.

    Args:
        iou: [B, N, M] IoU of rows against columns.
        valid_columns: [B, M] booleans; False for padding (IoU taken as -1).
        positive_threshold, negative_threshold: the IoU bounds above.
        negative_floor: the lowest best IoU a negative row may have.
        force_match: whether each valid column claims its best row.

    Returns:
        (matched [B, N] int32 column index, best [B, N] its IoU (-1 when no
        column is valid), positive [B, N] bool, negative [B, N] bool).
    """
    iou = ops.where(ops.expand_dims(valid_columns, 1), ops.cast(iou, "float32"), -1.0)
    matched = ops.cast(ops.argmax(iou, axis=-1), "int32")
    best = ops.max(iou, axis=-1)
    positive = best >= positive_threshold
    negative = best < negative_threshold
    if negative_floor is not None:
        negative = ops.logical_and(negative, best >= negative_floor)
    if force_match:
        num_rows = iou.shape[1]
        best_row = ops.argmax(iou, axis=1)  # [B, M]
        claims = ops.logical_and(
            ops.expand_dims(best_row, -1) == ops.arange(num_rows, dtype=best_row.dtype),
            ops.expand_dims(valid_columns, -1))  # [B, M, N]
        claims = ops.cast(claims, "int8")  # as large as the IoU matrix: keep it small
        forced = ops.max(claims, axis=1) > 0  # [B, N]
        matched = ops.where(forced, ops.cast(ops.argmax(claims, axis=1), "int32"), matched)
        positive = ops.logical_or(positive, forced)
        negative = ops.logical_and(negative, ops.logical_not(positive))
    return matched, best, positive, negative


def gather_rows(values, indices):
    """values [B, M, ...] gathered at indices [B, N] -> [B, N, ...]."""
    index = ops.cast(indices, "int32")
    for _ in range(len(values.shape) - 2):
        index = ops.expand_dims(index, -1)
    return ops.take_along_axis(values, index, axis=1)
