"""Non-maximum suppression. Keras has no NMS op: on the TensorFlow backend
TensorFlow's own ops run (fast, and what exported graphs contain); on the
other backends (JAX, PyTorch) a greedy NMS in `keras.ops` gives the same
boxes.

Greedy NMS over boxes sorted by score, batched, with tf-models-official's
rules: a box is suppressed by a higher-scoring kept one when their IoU is
above the threshold, and a box collapsed to the origin (all coordinates
<= 0) is never selected.
"""

import keras
from keras import ops


def _on_tensorflow():
    return keras.backend.backend() == "tensorflow"


def _pairwise_iou(boxes):
    """[B, N, N] IoU of every pair of `boxes` [B, N, 4]; 0 where either box
    has no area (as TensorFlow's NMS kernels)."""
    ymin, xmin, ymax, xmax = (boxes[..., i] for i in range(4))
    area = (ymax - ymin) * (xmax - xmin)
    height = ops.maximum(ops.minimum(ymax[:, :, None], ymax[:, None, :])
                         - ops.maximum(ymin[:, :, None], ymin[:, None, :]), 0.0)
    width = ops.maximum(ops.minimum(xmax[:, :, None], xmax[:, None, :])
                        - ops.maximum(xmin[:, :, None], xmin[:, None, :]), 0.0)
    intersection = height * width
    union = area[:, :, None] + area[:, None, :] - intersection
    both = ops.logical_and(area[:, :, None] > 0, area[:, None, :] > 0)
    return ops.where(both, intersection / ops.where(both, union, 1.0), 0.0)


def greedy_nms_keep(boxes, candidates, iou_threshold):
    """[B, N] bool: which of `boxes` [B, N, 4] (sorted by descending score)
    greedy NMS keeps among `candidates` [B, N] bool. Box i is kept when it
    is a candidate and no kept box before it overlaps it by more than
    `iou_threshold`."""
    n = boxes.shape[1]
    overlaps = _pairwise_iou(ops.cast(boxes, "float32")) > iou_threshold  # [b, j, i]
    index = ops.arange(n)

    def step(i, keep):  # keep: the decisions for boxes 0..i-1, False after
        suppressed = ops.any(ops.logical_and(keep, ops.take(overlaps, i, axis=2)), axis=1)
        keep_i = ops.logical_and(ops.take(candidates, i, axis=1), ops.logical_not(suppressed))
        return ops.where(index[None, :] == i, keep_i[:, None], keep)

    return ops.fori_loop(0, n, step, ops.zeros_like(candidates))


def _first_kept(keep, count):
    """Indices [B, count] of the first `count` kept positions of `keep`
    [B, N] in order, and how many there are [B]."""
    n = keep.shape[1]
    index = ops.arange(n)
    order = ops.argsort(ops.where(keep, index, index + n), axis=1)[:, :count]
    valid = ops.minimum(ops.sum(ops.cast(keep, "int32"), axis=1), count)
    return order, valid


def _pad_to(values, size, value=0.0, axis=1):
    """`values` padded with `value` along `axis` to at least `size`."""
    missing = size - values.shape[axis]
    if missing <= 0:
        return values
    widths = [(0, 0)] * len(values.shape)
    widths[axis] = (0, missing)
    return ops.pad(values, widths, constant_values=value)


def sorted_nms_padded(scores, boxes, max_output_size, iou_threshold):
    """Batched greedy NMS of boxes already sorted by descending score.

    Args:
        scores: [B, N] float.
        boxes: [B, N, 4] (ymin, xmin, ymax, xmax).
        max_output_size: boxes kept per image at most (an int).
        iou_threshold: suppression IoU.

    Returns:
        (scores [B, max_output_size], boxes [B, max_output_size, 4]): the
        kept boxes in score order, zeros past each image's count.
    """
    if not _on_tensorflow():
        return _sorted_nms_padded_keras(scores, boxes, max_output_size, iou_threshold)
    import tensorflow as tf

    scores = tf.cast(scores, tf.float32)
    boxes = tf.cast(boxes, tf.float32)
    # Dots (boxes at the origin) take no part, as in the reference.
    dots = tf.logical_not(tf.reduce_any(boxes > 0, axis=-1))
    ranked = tf.where(dots, float("-inf"), scores)
    selected, valid = tf.image.non_max_suppression_padded(
        boxes, ranked, max_output_size, iou_threshold=iou_threshold,
        score_threshold=float("-inf"), pad_to_max_output_size=True, sorted_input=True,
        canonicalized_coordinates=True)
    keep = tf.range(max_output_size)[None, :] < valid[:, None]
    kept_scores = tf.where(keep, tf.gather(scores, selected, batch_dims=1), 0.0)
    kept_boxes = tf.where(keep[..., None], tf.gather(boxes, selected, batch_dims=1), 0.0)
    return kept_scores, kept_boxes


def _sorted_nms_padded_keras(scores, boxes, max_output_size, iou_threshold):
    """`sorted_nms_padded` in `keras.ops` (see `greedy_nms_keep`)."""
    scores = _pad_to(ops.cast(scores, "float32"), max_output_size)
    boxes = _pad_to(ops.cast(boxes, "float32"), max_output_size)
    dots = ops.logical_not(ops.any(boxes > 0, axis=-1))  # padding is dots too
    keep = greedy_nms_keep(boxes, ops.logical_not(dots), iou_threshold)
    order, valid = _first_kept(keep, max_output_size)
    kept = ops.arange(max_output_size)[None, :] < valid[:, None]
    kept_scores = ops.where(kept, ops.take_along_axis(scores, order, axis=1), 0.0)
    kept_boxes = ops.where(kept[..., None],
                           ops.take_along_axis(boxes, order[..., None], axis=1), 0.0)
    return kept_scores, kept_boxes


def per_class_nms(boxes, scores, pre_nms_top_k, score_threshold, iou_threshold,
                  max_detections):
    """Per-class greedy NMS, then the best detections over all classes
    (tf-models-official's "v2" post-processing), for the whole batch in one
    `combined_non_max_suppression`.

    Args:
        boxes: [B, N, 4] boxes shared by the classes, or [B, N, C, 4] one
            per class.
        scores: [B, N, C] scores of the foreground classes 1..C (the
            background slot 0 already dropped).
        pre_nms_top_k: best candidates kept per class before NMS.
        score_threshold: candidates scoring at or below it are dropped.
        iou_threshold: NMS IoU.
        max_detections: detections per image, K.

    Returns:
        dict of `detection_boxes` [B, K, 4], `detection_scores` [B, K],
        `detection_classes` [B, K] int32 (class ids 1..C) and
        `num_detections` [B] int32; zeros past each image's count.
    """
    if not _on_tensorflow():
        return _per_class_nms_keras(boxes, scores, pre_nms_top_k, score_threshold,
                                    iou_threshold, max_detections)
    import tensorflow as tf

    k = min(pre_nms_top_k, scores.shape[1])
    # Best k candidates per class: scores [B, C, k], boxes [B, C, k, 4].
    top_scores, top_index = tf.math.top_k(tf.transpose(scores, [0, 2, 1]), k)
    if len(boxes.shape) == 3:
        top_boxes = tf.gather(boxes, top_index, batch_dims=1)
    else:
        top_boxes = tf.gather(tf.transpose(boxes, [0, 2, 1, 3]), top_index, batch_dims=2)
    boxes, scores, classes, valid = tf.image.combined_non_max_suppression(
        tf.transpose(top_boxes, [0, 2, 1, 3]), tf.transpose(top_scores, [0, 2, 1]),
        max_output_size_per_class=max_detections, max_total_size=max_detections,
        iou_threshold=iou_threshold, score_threshold=score_threshold,
        pad_per_class=False, clip_boxes=False)
    valid_mask = tf.range(max_detections)[None, :] < valid[:, None]
    return {
        "detection_boxes": boxes,
        "detection_scores": scores,
        "detection_classes": tf.where(valid_mask, tf.cast(classes, tf.int32) + 1, 0),
        "num_detections": tf.cast(valid, tf.int32),
    }


def _per_class_nms_keras(boxes, scores, pre_nms_top_k, score_threshold, iou_threshold,
                         max_detections):
    """`per_class_nms` in `keras.ops`: greedy NMS per class over its best
    `pre_nms_top_k` (see `greedy_nms_keep`), at most `max_detections` a
    class, then the best `max_detections` over all classes."""
    batch, count, classes = scores.shape
    batch = batch if batch is not None else ops.shape(scores)[0]
    k = min(pre_nms_top_k, count)
    scores = ops.cast(scores, "float32")
    top_scores, top_index = ops.top_k(ops.transpose(scores, [0, 2, 1]), k)  # [B, C, k]
    if len(boxes.shape) == 3:
        boxes = ops.broadcast_to(ops.cast(boxes, "float32")[:, None],
                                 (batch, classes, count, 4))
    else:
        boxes = ops.transpose(ops.cast(boxes, "float32"), [0, 2, 1, 3])
    top_boxes = ops.take_along_axis(boxes, top_index[..., None], axis=2)  # [B, C, k, 4]
    keep = greedy_nms_keep(ops.reshape(top_boxes, (-1, k, 4)),
                           ops.reshape(top_scores > score_threshold, (-1, k)), iou_threshold)
    keep = ops.reshape(keep, (-1, classes, k))
    keep = ops.logical_and(keep, ops.cumsum(ops.cast(keep, "int32"), axis=-1)
                           <= max_detections)
    never = float("-inf")  # the score of what was not kept
    flat_scores = _pad_to(ops.reshape(ops.where(keep, top_scores, never), (-1, classes * k)),
                          max_detections, never)
    best_scores, best = ops.top_k(flat_scores, max_detections)  # sorted descending
    flat_boxes = _pad_to(ops.reshape(top_boxes, (-1, classes * k, 4)), max_detections)
    valid_mask = best_scores > never
    valid = ops.sum(ops.cast(valid_mask, "int32"), axis=1)
    return {
        "detection_boxes": ops.where(valid_mask[..., None], ops.take_along_axis(
            flat_boxes, best[..., None], axis=1), 0.0),
        "detection_scores": ops.where(valid_mask, best_scores, 0.0),
        "detection_classes": ops.where(valid_mask, ops.cast(best // k, "int32") + 1, 0),
        "num_detections": ops.cast(valid, "int32"),
    }
