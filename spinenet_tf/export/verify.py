"""Checks an exported detector against the Keras model it came from.

`TFLiteDetector` runs a detection `.tflite` in LiteRT, `KerasDetector` the
Keras model on the same input; `top_detections_match` compares their
detections on one image, `coco_ap_of_detectors` evaluates them on
COCO-format data with pycocotools, and `latency_ms` times one call.
`tflite_verification` and `saved_model_verification` put them together.
"""

import statistics
import time

import numpy as np
import tensorflow as tf

from spinenet_tf.evaluation.coco_metrics import coco_metrics, serving_function
from spinenet_tf.layers.image_preprocessor import ImagePreprocessor
from spinenet_tf.progress import ProgressBar


def load_image(path):
    """uint8 RGB [H, W, 3] from an image file."""
    return tf.io.decode_image(tf.io.read_file(path), channels=3,
                              expand_animations=False).numpy()


def fit_to_input(image, input_size):
    """Resize (long side) and pad to `input_size`, 0..255 float, + the scale:
    what a phone app feeds a `.tflite` (pixels; it normalises inside)."""
    padded, info = ImagePreprocessor(input_size).resize_and_pad(image)
    return padded.numpy(), info.numpy()


class TFLiteDetector:
    """A `.tflite` from `convert_to_tflite` run in LiteRT (`threads` threads;
    1 for files with the op's regular NMS, see
    `spinenet_tf.export.tflite.detector_post_process_config`), with LiteRT's
    default XNNPACK delegate or, `xnnpack=False`, its built-in kernels only.
    """

    def __init__(self, flatbuffer, threads=2, xnnpack=True):
        from ai_edge_litert import interpreter as litert

        resolver = (litert.OpResolverType.AUTO if xnnpack else
                    litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        self.interpreter = litert.Interpreter(model_content=flatbuffer,
                                              num_threads=threads,
                                              experimental_op_resolver_type=resolver)
        self.runner = self.interpreter.get_signature_runner("serving_default")
        (self.input_detail,) = self.runner.get_input_details().values()
        self.input_size = tuple(int(s) for s in self.input_detail["shape"][1:3])

    def __call__(self, image):
        """Outputs for one image already of the input size (0..255)."""
        value = np.asarray(image)[None]
        if self.input_detail["dtype"] == np.uint8:
            value = np.clip(np.round(value), 0, 255)
        return self.runner(image=value.astype(self.input_detail["dtype"]))


class KerasDetector:
    """The Keras model's detections for input-size images (0..255)."""

    def __init__(self, model):
        self.preprocessor = model.preprocessor
        self.detect = serving_function(model)

    def __call__(self, image):
        batch = self.preprocessor.normalize(np.asarray(image)[None])
        return {k: v.numpy()[0] for k, v in self.detect(batch).items()}


def tflite_detections(detector, image):
    """The `.tflite`'s detections in input pixels, classes as our ids."""
    out = detector(image)
    height, width = detector.input_size
    count = int(out["num_detections"][0])
    return {"detection_boxes": out["detection_boxes"][0, :count] * [height, width,
                                                                     height, width],
            "detection_scores": out["detection_scores"][0, :count],
            "detection_classes": out["detection_classes"][0, :count].astype(int) + 1,
            "num_detections": count}


def _iou(a, b):
    top, left = np.maximum(a[:2], b[:2])
    bottom, right = np.minimum(a[2:], b[2:])
    inter = max(bottom - top, 0.0) * max(right - left, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def suppress_across_classes(detections, iou_threshold):
    """Keras detections as class-agnostic NMS would keep them: each one,
    strongest first, is dropped if it overlaps a kept one of any class by
    more than `iou_threshold`. What the TFLite op's fast NMS is compared
    with, since it does not keep a second class's box on the same object."""
    count = int(detections["num_detections"])
    kept = []
    for k in range(count):
        box = detections["detection_boxes"][k]
        if all(_iou(box, detections["detection_boxes"][j]) <= iou_threshold for j in kept):
            kept.append(k)
    return {"detection_boxes": detections["detection_boxes"][kept],
            "detection_scores": detections["detection_scores"][kept],
            "detection_classes": detections["detection_classes"][kept],
            "num_detections": len(kept)}


def top_detections_match(expected, received, top=5, min_iou=0.9):
    """Each of the `top` best Keras detections has a TFLite detection of the
    same class at IoU >= `min_iou`; returns (matched, compared)."""
    count = min(int(expected["num_detections"]), top)
    matched = 0
    for k in range(count):
        box, cls = expected["detection_boxes"][k], expected["detection_classes"][k]
        matched += any(c == cls and _iou(box, b) >= min_iou for b, c in zip(
            received["detection_boxes"], received["detection_classes"]))
    return matched, count


def coco_ap_of_detectors(detectors, dataset, input_size, max_images=None, progress=True):
    """COCO metrics of each detector on a `CocoDataset`.

    `detectors` maps a name to a function from an input-size image (0..255)
    to its detections in input pixels with our class ids: a `KerasDetector`,
    or `functools.partial(tflite_detections, tflite_detector)`. Every image
    is resized and padded once and run through all of them. Returns
    {name: metrics}."""
    records = dataset.records[:max_images] if max_images else dataset.records
    found = {name: [] for name in detectors}
    bar = ProgressBar(len(records), "verifying") if progress else None
    for record in records:
        image, info = fit_to_input(load_image(record.path), input_size)
        scale = np.tile(info[2], 2)
        for name, detect in detectors.items():
            detections = detect(image)
            count = int(detections["num_detections"])
            for box, score, cls in zip(detections["detection_boxes"][:count] / scale,
                                       detections["detection_scores"][:count],
                                       detections["detection_classes"][:count]):
                ymin, xmin, ymax, xmax = (float(v) for v in box)
                found[name].append({"image_id": record.image_id, "category_id": int(cls),
                                    "bbox": [xmin, ymin, xmax - xmin, ymax - ymin],
                                    "score": float(score)})
        if bar is not None:
            bar.add(1)
    ids = [r.image_id for r in records]
    return {name: coco_metrics(found[name], ids, dataset.categories,
                               annotation_file=dataset.annotation_file)
            for name in found}


def latency_ms(detector, image, runs=20, warmup=3):
    """Median milliseconds of `detector(image)`."""
    for _ in range(warmup):
        detector(image)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        detector(image)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
