"""How `--verify` compares an exported detector's detections with the
Keras model's: image by image, the top detections matched by class and IoU."""

import numpy as np

from spinenet_tf.ops.box_ops import box_iou


def one_image(detections, index):
    """Image `index` of batched detections, cut to its `num_detections`."""
    count = int(detections["num_detections"][index])
    return {"detection_boxes": np.asarray(detections["detection_boxes"][index][:count]),
            "detection_scores": np.asarray(detections["detection_scores"][index][:count]),
            "detection_classes": np.asarray(detections["detection_classes"][index][:count]),
            "num_detections": count}


def suppress_across_classes(detections, iou_threshold):
    """One image's detections as class-agnostic NMS would keep them: each,
    strongest first, is dropped if it overlaps a kept one of any class by
    more than `iou_threshold`. What the TFLite op's fast NMS is compared
    with, since it does not keep a second class's box on the same object."""
    boxes = detections["detection_boxes"]
    iou = np.asarray(box_iou(boxes, boxes)) if len(boxes) else np.zeros((0, 0))
    kept = []
    for k in range(int(detections["num_detections"])):
        if all(iou[k, j] <= iou_threshold for j in kept):
            kept.append(k)
    return {"detection_boxes": boxes[kept],
            "detection_scores": detections["detection_scores"][kept],
            "detection_classes": detections["detection_classes"][kept],
            "num_detections": len(kept)}


def top_detections_match(expected, received, top=5, min_iou=0.9):
    """For one image: how many of the `top` best `expected` detections have
    a `received` one of the same class at IoU >= `min_iou`; returns
    (matched, compared)."""
    count = min(int(expected["num_detections"]), top)
    if not count:
        return 0, 0
    iou = (np.asarray(box_iou(expected["detection_boxes"][:count],
                              received["detection_boxes"]))
           if len(received["detection_boxes"]) else np.zeros((count, 0)))
    same_class = (np.asarray(expected["detection_classes"][:count])[:, None]
                  == np.asarray(received["detection_classes"])[None])
    return int(np.sum(np.any((iou >= min_iou) & same_class, axis=1))), count


def match_top_detections(expected_detect, received_detect, dataset, max_images,
                         top=5, min_iou=0.9, adjust_expected=None):
    """`top_detections_match` summed over the first `max_images` images of an
    evaluation dataset; `adjust_expected` maps one image's expected
    detections first (e.g. `suppress_across_classes`). Returns (matched,
    compared, images)."""
    matched = compared = seen = 0
    for images, targets, weights in dataset:
        expected = expected_detect(images, targets["image_info"])
        received = received_detect(images, targets["image_info"])
        for b in np.flatnonzero(np.asarray(weights) > 0):
            if seen == max_images:
                return matched, compared, seen
            wanted = one_image(expected, b)
            if adjust_expected:
                wanted = adjust_expected(wanted)
            m, c = top_detections_match(wanted, one_image(received, b), top, min_iou)
            matched, compared, seen = matched + m, compared + c, seen + 1
    return matched, compared, seen


def first_images(dataset, count):
    """(normalised images, image_info) of the first `count` readable images."""
    images, infos = [], []
    for batch, targets, weights in dataset:
        for b in np.flatnonzero(np.asarray(weights) > 0):
            if len(images) < count:
                images.append(np.asarray(batch[b]))
                infos.append(np.asarray(targets["image_info"][b]))
        if len(images) >= count:
            break
    return np.stack(images), np.stack(infos)
