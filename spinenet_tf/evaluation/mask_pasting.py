"""Instance masks pasted into the image, as COCO mask AP scores them.

Mask R-CNN predicts each detection's mask as a small probability map
(28 x 28) inside the detection box; COCO evaluation needs a binary mask over
the whole image. `paste_masks` does what tf-models-official's
`paste_instance_masks` (after Detectron) does: pad the map by one zero pixel
on each side, grow the box to match, resize the padded map bilinearly to
the box's integer pixel extent (OpenCV's `INTER_LINEAR` sampling: pixel
centres, edge pixels repeated), threshold at 0.5 and copy the part inside
the image. NumPy only: no OpenCV needed. `paste_masks_in_graph` does the
same with TensorFlow ops, batched, for a SavedModel's full-image masks.
"""

import numpy as np


def bilinear_resize(image, height, width):
    """[h, w] float -> [height, width], sampled as OpenCV's `INTER_LINEAR`
    (source coordinate (x + 0.5) * w / width - 0.5, clamped to the edge
    pixels)."""
    image = np.asarray(image, np.float32)

    def axis(out_size, in_size):
        position = (np.arange(out_size, dtype=np.float64) + 0.5) * (in_size / out_size) - 0.5
        low = np.floor(position).astype(np.int64)
        weight = (position - low).astype(np.float32)
        before = low < 0
        low[before], weight[before] = 0, 0.0
        after = low >= in_size - 1
        low[after], weight[after] = in_size - 1, 0.0
        return low, np.minimum(low + 1, in_size - 1), weight

    y0, y1, wy = axis(height, image.shape[0])
    x0, x1, wx = axis(width, image.shape[1])
    top = image[y0][:, x0] * (1 - wx) + image[y0][:, x1] * wx
    bottom = image[y1][:, x0] * (1 - wx) + image[y1][:, x1] * wx
    return top * (1 - wy)[:, None] + bottom * wy[:, None]


def paste_masks(masks, boxes, image_height, image_width, threshold=0.5):
    """Binary full-image masks of detections.

    Args:
        masks: [N, h, w] mask probabilities, each inside its box.
        boxes: [N, 4] (ymin, xmin, ymax, xmax) in the image's pixels.
        image_height, image_width: the image's size.
        threshold: probabilities above it are the instance.

    Returns:
        uint8 [N, image_height, image_width], 1 inside each instance.
    """
    masks = np.asarray(masks, np.float32)
    boxes = np.asarray(boxes, np.float64)
    if masks.ndim != 3 or boxes.shape != (len(masks), 4):
        raise ValueError(f"paste_masks takes masks [N, h, w] and boxes [N, 4]; received "
                         f"masks {masks.shape} and boxes {boxes.shape}.")
    count, mask_height, mask_width = masks.shape
    # One zero pixel of padding each side, the box grown to match it.
    scale = max((mask_width + 2.0) / mask_width, (mask_height + 2.0) / mask_height)
    center_y = (boxes[:, 0] + boxes[:, 2]) / 2
    center_x = (boxes[:, 1] + boxes[:, 3]) / 2
    half_height = (boxes[:, 2] - boxes[:, 0]) / 2 * scale
    half_width = (boxes[:, 3] - boxes[:, 1]) / 2 * scale
    grown = np.stack([center_x - half_width, center_y - half_height,
                      center_x + half_width, center_y + half_height], -1).astype(np.int32)
    pasted = np.zeros((count, image_height, image_width), np.uint8)
    padded = np.zeros((mask_height + 2, mask_width + 2), np.float32)
    for i, (x_min, y_min, x_max, y_max) in enumerate(grown):
        padded[1:-1, 1:-1] = masks[i]
        width, height = max(x_max - x_min + 1, 1), max(y_max - y_min + 1, 1)
        instance = (bilinear_resize(padded, height, width) > threshold).astype(np.uint8)
        x0, x1 = min(max(x_min, 0), image_width), min(max(x_max + 1, 0), image_width)
        y0, y1 = min(max(y_min, 0), image_height), min(max(y_max + 1, 0), image_height)
        pasted[i, y0:y1, x0:x1] = instance[y0 - y_min:y1 - y_min, x0 - x_min:x1 - x_min]
    return pasted


def _interpolation_rows(start, extent, source_size, output_size, limit):
    """[..., output_size, source_size] bilinear weights (`bilinear_resize`'s
    sampling) that put a `source_size` map over pixels start..start+extent-1
    of an axis of `output_size` pixels; rows outside it, or at or past
    `limit`, are zero."""
    import tensorflow as tf

    pixels = tf.range(output_size, dtype=tf.float32)
    local = pixels - tf.cast(start, tf.float32)[..., None]
    extent = tf.cast(extent, tf.float32)[..., None]
    position = (local + 0.5) * (source_size / extent) - 0.5
    low = tf.floor(position)
    weight = position - low
    before, after = low < 0, low >= source_size - 1
    low = tf.where(before, 0.0, tf.where(after, source_size - 1.0, low))
    weight = tf.where(before | after, 0.0, weight)
    high = tf.minimum(low + 1, source_size - 1)
    rows = (tf.one_hot(tf.cast(low, tf.int32), source_size) * (1 - weight)[..., None]
            + tf.one_hot(tf.cast(high, tf.int32), source_size) * weight[..., None])
    inside = (local >= 0) & (local < extent) & (pixels < tf.cast(limit, tf.float32)[..., None])
    return rows * tf.cast(inside, tf.float32)[..., None]


def paste_masks_in_graph(masks, boxes, num_detections, image_sizes, output_size,
                         threshold=0.5):
    """`paste_masks` as TensorFlow ops, batched, for a SavedModel.

    Args:
        masks: [B, K, h, w] mask probabilities, each inside its box.
        boxes: [B, K, 4] (ymin, xmin, ymax, xmax) in each image's pixels.
        num_detections: [B]; rows past it paste nothing.
        image_sizes: [B, 2] each image's (height, width).
        output_size: (height, width) of the output (at least every image's).
        threshold: probabilities above it are the instance.

    Returns:
        uint8 [B, K, height, width]: 1 inside each instance, image b's masks in
        its top-left image_sizes[b] corner. Each mask is the bilinear resize
        of its padded map (separable weights, one [H, W] at a time), so the
        result equals `paste_masks` except where float rounding moves a
        probability across the threshold.
    """
    import tensorflow as tf

    masks = tf.convert_to_tensor(masks, tf.float32)
    boxes = tf.convert_to_tensor(boxes, tf.float32)
    mask_height, mask_width = masks.shape[-2], masks.shape[-1]
    scale = max((mask_width + 2.0) / mask_width, (mask_height + 2.0) / mask_height)
    center_y = (boxes[..., 0] + boxes[..., 2]) / 2
    center_x = (boxes[..., 1] + boxes[..., 3]) / 2
    half_height = (boxes[..., 2] - boxes[..., 0]) / 2 * scale
    half_width = (boxes[..., 3] - boxes[..., 1]) / 2 * scale
    # Truncated toward zero, as NumPy's astype(int32) in `paste_masks`.
    y_min, x_min = tf.cast(center_y - half_height, tf.int32), tf.cast(center_x - half_width,
                                                                      tf.int32)
    y_max, x_max = tf.cast(center_y + half_height, tf.int32), tf.cast(center_x + half_width,
                                                                      tf.int32)
    height = tf.maximum(y_max - y_min + 1, 1)
    width = tf.maximum(x_max - x_min + 1, 1)
    image_sizes = tf.cast(image_sizes, tf.int32)
    count = tf.shape(boxes)[1]
    valid = tf.range(count)[None, :] < tf.cast(num_detections, tf.int32)[:, None]
    limit_y = tf.where(valid, image_sizes[:, 0:1], 0)
    limit_x = tf.broadcast_to(image_sizes[:, 1:2], tf.shape(y_min))
    rows = _interpolation_rows(y_min, height, mask_height + 2, output_size[0], limit_y)
    columns = _interpolation_rows(x_min, width, mask_width + 2, output_size[1], limit_x)
    padded = tf.pad(masks, [[0, 0], [0, 0], [1, 1], [1, 1]])

    def one(args):
        row_weights, mask, column_weights = args
        resized = tf.matmul(tf.matmul(row_weights, mask), column_weights, transpose_b=True)
        return tf.cast(resized > threshold, tf.uint8)

    flat = tf.map_fn(
        one, (tf.reshape(rows, [-1, output_size[0], mask_height + 2]),
              tf.reshape(padded, [-1, mask_height + 2, mask_width + 2]),
              tf.reshape(columns, [-1, output_size[1], mask_width + 2])),
        fn_output_signature=tf.TensorSpec([None, None], tf.uint8), parallel_iterations=8)
    return tf.reshape(flat, [tf.shape(boxes)[0], count, output_size[0], output_size[1]])
