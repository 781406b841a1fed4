"""Instance masks pasted into the image, as COCO mask AP scores them.

Mask R-CNN predicts each detection's mask as a small probability map
(28 x 28) inside the detection box; COCO evaluation needs a binary mask over
the whole image. `paste_masks` does what tf-models-official's
`paste_instance_masks` (after Detectron) does: pad the map by one zero pixel
on each side, grow the box to match, resize the padded map bilinearly to
the box's integer pixel extent (OpenCV's `INTER_LINEAR` sampling: pixel
centres, edge pixels repeated), threshold at 0.5 and copy the part inside
the image. NumPy only: no OpenCV needed.
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
