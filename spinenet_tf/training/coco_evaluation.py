"""COCO box AP of a RetinaNet with pycocotools."""

import contextlib
import io

import numpy as np
import tensorflow as tf
from keras.utils import Progbar

METRIC_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl",
                "ARmax1", "ARmax10", "ARmax100", "ARs", "ARm", "ARl")


def detect_function(model):
    """A compiled images -> detections function of a RetinaNet."""
    return tf.function(
        lambda images: model.decode_detections(model(images, training=False), images))


def collect_detections(model, dataset, max_images=None, total=None, progress=True):
    """Runs `model` over an evaluation dataset (as `DetectionInput` makes it).

    Returns:
        (detections, ground_truth, image_ids): COCO-format result dicts in
        original image coordinates, ground-truth annotations rebuilt from the
        targets (for sources without an annotation file), and the ids of the
        evaluated images (images that could not be decoded are left out).
    """
    detect = detect_function(model)
    detections, ground_truth, image_ids = [], [], []
    bar = Progbar(total, unit_name="image") if progress else None
    for images, targets, weights in dataset:
        output = {k: v.numpy() for k, v in detect(images).items()}
        info = targets["image_info"].numpy()
        for b in range(images.shape[0]):
            if weights[b] == 0:
                continue
            image_id = int(targets["image_id"][b])
            image_ids.append(image_id)
            scale = np.tile(info[b, 2], 2)
            for box, score, cls in zip(
                    output["detection_boxes"][b] / scale,
                    output["detection_scores"][b],
                    output["detection_classes"][b][: output["num_detections"][b]]):
                ymin, xmin, ymax, xmax = (float(v) for v in box)
                detections.append({"image_id": image_id, "category_id": int(cls),
                                   "bbox": [xmin, ymin, xmax - xmin, ymax - ymin],
                                   "score": float(score)})
            classes = targets["classes"][b].numpy()
            for box, cls, crowd in zip(targets["boxes"][b].numpy() / scale, classes,
                                       targets["is_crowd"][b].numpy()):
                if cls < 0:
                    continue
                ymin, xmin, ymax, xmax = (float(v) for v in box)
                ground_truth.append({
                    "id": len(ground_truth) + 1, "image_id": image_id,
                    "category_id": int(cls), "iscrowd": int(crowd),
                    "bbox": [xmin, ymin, xmax - xmin, ymax - ymin],
                    "area": (xmax - xmin) * (ymax - ymin)})
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
