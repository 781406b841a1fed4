"""Non-maximum suppression (Keras has no NMS op: TensorFlow's, here only).

Greedy NMS over boxes sorted by score, batched, with tf-models-official's
rules: a box is suppressed by a higher-scoring one when their IoU is >=
the threshold, and a box collapsed to the origin (all coordinates <= 0)
is never selected.
"""


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
