"""COCO box (and mask) AP of any form of a detector: the one place AP is
computed.

A *detect function* maps one evaluation batch, `(images, image_info)` as the
task's evaluation pipeline makes them (normalised model input in the model's
geometry, and `ImagePreprocessor`'s `image_info`), to the detections in the
original images' pixels: a dict of numpy arrays `detection_boxes` [B, N, 4]
(ymin, xmin, ymax, xmax), `detection_scores`, `detection_classes` (our class
ids) and `num_detections`; an instance segmenter adds `detection_masks`
[B, N, h, w] (probabilities inside each box), which are pasted into the
original image (`mask_pasting.paste_masks`) and scored as COCO mask AP
(`mask_AP`, `mask_AP50`, ...). `keras_detect(model)` is the Keras model's;
`spinenet_tf.export.detectors` has the SavedModel's and the `.tflite`'s.
Training evaluation, `--verify`, the int8 AP budget and the benchmarks all
call `evaluate_detector`, so every form is scored on the same images in the
same geometry with the same box conversion.
"""

import dataclasses
import weakref

import numpy as np
import tensorflow as tf

from spinenet_tf.data.instance_masks import encode_mask
from spinenet_tf.evaluation.coco_metrics import coco_metrics
from spinenet_tf.evaluation.mask_pasting import paste_masks
from spinenet_tf.ops.box_ops import yxyx_to_xywh
from spinenet_tf.utils.progress import ProgressBar

_SERVING_FUNCTIONS = weakref.WeakKeyDictionary()


def serving_function(model):
    """`model.serving_outputs(images, image_info)` as one compiled
    `tf.function` per model, traced once for any batch size: evaluation
    batches, the few images of a drawing and a latency measurement at
    batch 1 share one graph instead of tracing the model once each."""
    if model not in _SERVING_FUNCTIONS:
        height, width = model.preprocessor.image_size
        _SERVING_FUNCTIONS[model] = tf.function(
            model.serving_outputs, autograph=False, input_signature=[
                tf.TensorSpec([None, height, width, 3], tf.float32, name="images"),
                tf.TensorSpec([None, 4, 2], tf.float32, name="image_info")])
    return _SERVING_FUNCTIONS[model]


def keras_detect(model):
    """The detect function of a Keras detector: `model.serving_outputs`, the
    computation the SavedModel serves."""
    detect = serving_function(model)

    def run(images, image_info):
        return {key: np.asarray(value) for key, value in detect(images, image_info).items()}

    return run


def coco_results(detections, image_ids, image_sizes=None):
    """COCO result dicts of a batch's detections (boxes in original pixels);
    with `detection_masks`, each result's `segmentation` is its mask pasted
    into the image of `image_sizes` [B, 2] (height, width), as RLE."""
    results = []
    for b, image_id in enumerate(image_ids):
        count = int(detections["num_detections"][b])
        yxyx = detections["detection_boxes"][b][:count]
        boxes = np.asarray(yxyx_to_xywh(yxyx))
        masks = [None] * count
        if "detection_masks" in detections:
            height, width = (int(round(float(v))) for v in image_sizes[b])
            masks = [encode_mask(m) for m in paste_masks(
                detections["detection_masks"][b][:count], yxyx, height, width)]
        for box, score, cls, mask in zip(boxes, detections["detection_scores"][b][:count],
                                         detections["detection_classes"][b][:count], masks):
            result = {"image_id": int(image_id), "category_id": int(cls),
                      "bbox": [float(v) for v in box], "score": float(score)}
            if mask is not None:
                result["segmentation"] = mask
            results.append(result)
    return results


def ground_truth_annotations(targets, keep, first_id=1):
    """COCO annotations rebuilt from a batch's padded targets (for data
    without an annotation file, e.g. TFRecords), in original pixels."""
    annotations = []
    info = np.asarray(targets["image_info"])
    for b in np.flatnonzero(keep):
        scale, offset = np.tile(info[b, 2], 2), np.tile(info[b, 3], 2)
        boxes = (np.asarray(targets["boxes"][b]) + offset) / scale
        for box, cls, crowd in zip(np.asarray(yxyx_to_xywh(boxes)),
                                   np.asarray(targets["classes"][b]),
                                   np.asarray(targets["is_crowd"][b])):
            if cls < 0:
                continue
            annotations.append({
                "id": first_id + len(annotations), "image_id": int(targets["image_id"][b]),
                "category_id": int(cls), "iscrowd": int(crowd),
                "bbox": [float(v) for v in box], "area": float(box[2] * box[3])})
    return annotations


def evaluate_detector(detect, dataset, annotation_file=None, categories=None,
                      max_images=None, total=None, progress=True, description="evaluating"):
    """COCO box metrics of `detect` on an evaluation `dataset`.

    Args:
        detect: a detect function (module docstring).
        dataset: batches `(images, targets, weights)` of the task's
            evaluation pipeline (`DetectionInput`, training=False); images
            with weight 0 (unreadable) are left out.
        annotation_file: the COCO ground truth; without it the ground truth
            is rebuilt from the targets and `categories` (default: the
            classes seen).
        max_images: stop after this many images.
        total, progress, description: the progress bar.

    Returns:
        The metrics (`coco_metrics.METRIC_NAMES`) and `evaluated_images`;
        for detections with masks and an `annotation_file` (the masks'
        ground truth), the mask metrics too, named `mask_AP`, ....
    """
    results, ground_truth, image_ids, with_masks = [], [], [], False
    bar = ProgressBar(total, description) if progress else None
    for images, targets, weights in dataset:
        keep = np.asarray(weights) > 0
        if max_images:
            keep &= np.cumsum(keep) <= max_images - len(image_ids)
        ids = [int(i) for i in np.asarray(targets["image_id"])[keep]]
        if ids:
            detections = detect(images, targets["image_info"])
            with_masks = with_masks or "detection_masks" in detections
            results += coco_results({k: np.asarray(v)[keep] for k, v in detections.items()},
                                    ids, np.asarray(targets["image_info"])[keep, 0])
            if annotation_file is None:
                ground_truth += ground_truth_annotations(targets, keep, len(ground_truth) + 1)
            image_ids += ids
        if bar is not None:
            bar.add(int(np.shape(images)[0]))
        if max_images and len(image_ids) >= max_images:
            break
    if categories is None:
        categories = [{"id": c} for c in sorted({a["category_id"] for a in ground_truth})]
    metrics = coco_metrics(results, image_ids, categories, annotation_file=annotation_file,
                           ground_truth=ground_truth)
    if with_masks and annotation_file:
        masks = coco_metrics(results, image_ids, categories, annotation_file=annotation_file,
                             iou_type="segm")
        metrics.update({f"mask_{name}": value for name, value in masks.items()})
    metrics["evaluated_images"] = len(image_ids)
    return metrics


@dataclasses.dataclass
class EvaluationData:
    """A task's evaluation pipeline and its ground truth, for `evaluate`.

    `dataset` is the batched evaluation stream (`DetectionInput`, training
    False), `annotation_file` / `categories` the COCO ground truth (None: it
    is rebuilt from the targets), `num_images` the image count, if known,
    and `decode_log` the pipeline's record of the images it could not read.
    """

    dataset: object
    annotation_file: object = None
    categories: object = None
    num_images: object = None
    decode_log: object = None

    def evaluate(self, detect, max_images=None, progress=True, description="evaluating"):
        """`evaluate_detector(detect, ...)` on this data."""
        total = self.num_images
        if max_images:
            total = min(total or max_images, max_images)
        return evaluate_detector(detect, self.dataset, self.annotation_file, self.categories,
                                 max_images=max_images, total=total, progress=progress,
                                 description=description)
