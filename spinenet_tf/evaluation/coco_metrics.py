"""COCO box AP of a detector with pycocotools."""

import contextlib
import io
import weakref

import numpy as np
import tensorflow as tf

from spinenet_tf.progress import ProgressBar

METRIC_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl",
                "ARmax1", "ARmax10", "ARmax100", "ARs", "ARm", "ARl")


_SERVING_FUNCTIONS = weakref.WeakKeyDictionary()


def serving_function(model):
    """`model.serving_outputs` as one compiled `tf.function` per model (made
    once, so repeated evaluations do not retrace)."""
    if model not in _SERVING_FUNCTIONS:
        _SERVING_FUNCTIONS[model] = tf.function(model.serving_outputs)
    return _SERVING_FUNCTIONS[model]


def _coco_box(box):
    ymin, xmin, ymax, xmax = (float(v) for v in box)
    return [xmin, ymin, xmax - xmin, ymax - ymin]


def collect_detections(model, dataset, max_images=None, total=None, progress=True):
    """Runs a detector over an evaluation dataset (as `DetectionInput` makes it).

    The detections are `model.serving_outputs` with the batch's
    `image_info`: the same computation the SavedModel serves, boxes in the
    original image's pixels.

    Returns:
        (detections, ground_truth, image_ids): COCO-format result dicts,
        ground-truth annotations rebuilt from the targets (for sources
        without an annotation file), and the ids of the evaluated images
        (images that could not be decoded are left out).
    """
    detect = serving_function(model)
    detections, ground_truth, image_ids = [], [], []
    bar = ProgressBar(total, "evaluating") if progress else None
    for images, targets, weights in dataset:
        info = targets["image_info"]
        output = {k: v.numpy() for k, v in detect(images, info).items()}
        info = info.numpy()
        for b in range(images.shape[0]):
            if weights[b] == 0:
                continue
            image_id = int(targets["image_id"][b])
            image_ids.append(image_id)
            count = output["num_detections"][b]
            for box, score, cls in zip(output["detection_boxes"][b][:count],
                                       output["detection_scores"][b][:count],
                                       output["detection_classes"][b][:count]):
                detections.append({"image_id": image_id, "category_id": int(cls),
                                   "bbox": _coco_box(box), "score": float(score)})
            scale = np.tile(info[b, 2], 2)
            for box, cls, crowd in zip(targets["boxes"][b].numpy() / scale,
                                       targets["classes"][b].numpy(),
                                       targets["is_crowd"][b].numpy()):
                if cls < 0:
                    continue
                bbox = _coco_box(box)
                ground_truth.append({
                    "id": len(ground_truth) + 1, "image_id": image_id,
                    "category_id": int(cls), "iscrowd": int(crowd),
                    "bbox": bbox, "area": bbox[2] * bbox[3]})
        if bar is not None:
            bar.add(images.shape[0])
        if max_images and len(image_ids) >= max_images:
            break
    return detections, ground_truth, image_ids


def coco_metrics(detections, image_ids, categories, annotation_file=None,
                 ground_truth=None):
    """AP, AP50, AP75, APs, APm, APl (and ARs) as a dict of floats.

    The ground truth is `annotation_file` when given (the exact COCO
    annotations), else `ground_truth` annotations.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        if annotation_file:
            gt = COCO(annotation_file)
        else:
            gt = COCO()
            gt.dataset = {"images": [{"id": i} for i in image_ids],
                          "annotations": ground_truth, "categories": categories}
            gt.createIndex()
        if not detections:
            return {name: 0.0 for name in METRIC_NAMES}
        dt = gt.loadRes(detections)
        evaluation = COCOeval(gt, dt, "bbox")
        evaluation.params.imgIds = sorted(image_ids)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return {name: float(max(value, 0.0))
            for name, value in zip(METRIC_NAMES, evaluation.stats)}
