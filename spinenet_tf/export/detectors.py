"""The exported forms of a detector as detect functions, and how `--verify`
compares them with the Keras model.

`TFLiteDetector` runs a detection `.tflite` in LiteRT and `SavedModelDetector`
an exported SavedModel's `serve_image_tensor` signature; both are detect
functions of `spinenet_tf.evaluation` (an evaluation batch in, detections in
the original images' pixels out), so `evaluate_detector` scores them exactly
as it scores the Keras model. Each gets the evaluation batch's pixels
(`ImagePreprocessor.denormalize`): images already in the model's geometry,
as a phone app or a client sends them.
"""

import statistics
import time

import numpy as np
import tensorflow as tf

from spinenet_tf.ops.box_ops import box_iou, boxes_to_original


def load_image(path):
    """uint8 RGB [H, W, 3] from an image file."""
    return tf.io.decode_image(tf.io.read_file(path), channels=3,
                              expand_animations=False).numpy()


def as_uint8(pixels):
    """What a client sends: pixels rounded to uint8."""
    return np.round(np.clip(np.asarray(pixels), 0, 255)).astype(np.uint8)


def pixels_of(preprocessor, images):
    """The 0..255 pixels [B, H, W, 3] of a batch of normalised model input."""
    return np.asarray(preprocessor.denormalize(np.asarray(images, "float32")))


def on_uint8_pixels(detect, preprocessor):
    """`detect` fed the batch rounded to uint8 pixels, as a SavedModel client
    sends them (so the two sides see the same input)."""
    def run(images, image_info):
        pixels = as_uint8(pixels_of(preprocessor, images))
        return detect(preprocessor.normalize(pixels), image_info)

    return run


def _to_original(boxes, counts, image_info):
    boxes = np.asarray(boxes_to_original(boxes, image_info))
    valid = np.arange(boxes.shape[1])[None] < np.asarray(counts)[:, None]
    return np.where(valid[..., None], boxes, 0.0)


class TFLiteDetector:
    """A `.tflite` from `convert_to_tflite` in LiteRT, with LiteRT's default
    XNNPACK delegate or, `xnnpack=False`, its built-in kernels only. Use 1
    thread for files with the op's regular NMS (see
    `TFLitePostProcessConfig.from_decoder`)."""

    def __init__(self, flatbuffer, preprocessor, threads=2, xnnpack=True):
        from ai_edge_litert import interpreter as litert

        resolver = (litert.OpResolverType.AUTO if xnnpack else
                    litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        self.interpreter = litert.Interpreter(model_content=flatbuffer,
                                              num_threads=threads,
                                              experimental_op_resolver_type=resolver)
        self.runner = self.interpreter.get_signature_runner("serving_default")
        (self.input_detail,) = self.runner.get_input_details().values()
        self.input_size = tuple(int(s) for s in self.input_detail["shape"][1:3])
        self.preprocessor = preprocessor
        self.threads = threads

    def run(self, pixels):
        """The file's outputs for one image already of the input size (0..255)."""
        value = np.asarray(pixels)[None]
        if self.input_detail["dtype"] == np.uint8:
            value = as_uint8(value)
        return self.runner(image=value.astype(self.input_detail["dtype"]))

    def __call__(self, images, image_info):
        """Detections of an evaluation batch in original pixels, our class ids
        (the op's classes are 0-based foreground)."""
        height, width = self.input_size
        outputs = [self.run(pixels) for pixels in pixels_of(self.preprocessor, images)]
        counts = np.array([int(o["num_detections"][0]) for o in outputs])
        # The op leaves its outputs past the count unwritten (any bits): zeros.
        valid = np.arange(outputs[0]["detection_scores"].shape[1])[None] < counts[:, None]

        def stacked(key):
            values = np.concatenate([o[key] for o in outputs])
            return np.where(valid.reshape(valid.shape + (1,) * (values.ndim - 2)), values, 0)

        boxes = stacked("detection_boxes") * [height, width, height, width]
        return {"detection_boxes": _to_original(boxes, counts, image_info),
                "detection_scores": stacked("detection_scores"),
                "detection_classes": (stacked("detection_classes").astype(int) + 1) * valid,
                "num_detections": counts}


class SavedModelDetector:
    """An exported detector's `serve_image_tensor` signature, sent the batch
    as uint8 pixels."""

    def __init__(self, export_dir, preprocessor):
        self.signature = tf.saved_model.load(export_dir).signatures["serve_image_tensor"]
        self.preprocessor = preprocessor

    def run(self, pixels):
        """The signature's outputs for a uint8 batch [B, H, W, 3]."""
        return {k: v.numpy() for k, v in self.signature(images=tf.constant(pixels)).items()}

    def __call__(self, images, image_info):
        # The SavedModel maps boxes back to the pixels it was sent (the
        # model's input size); `image_info` maps them on to the originals.
        out = self.run(as_uint8(pixels_of(self.preprocessor, images)))
        out["detection_boxes"] = _to_original(out["detection_boxes"],
                                              out["num_detections"], image_info)
        return out


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


def latency_ms(function, *args, runs=20, warmup=3):
    """Median milliseconds of `function(*args)`."""
    for _ in range(warmup):
        function(*args)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function(*args)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
