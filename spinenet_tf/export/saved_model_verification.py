"""`--verify` for a detection SavedModel: the exported file (batch norm
folded, in its precision) against the Keras model it came from: top
detections, COCO AP and latency, on the same uint8 images."""

import numpy as np
import tensorflow as tf

from spinenet_tf.export.verify import (
    KerasDetector, coco_ap_of_detectors, fit_to_input, latency_ms, load_image,
    top_detections_match)

TOP_DETECTIONS = 10
MIN_IOU = 0.9


def as_uint8(image):
    """What a client sends: pixels rounded to uint8."""
    return np.round(np.clip(np.asarray(image), 0, 255)).astype(np.uint8)


class SavedModelDetector:
    """An exported detector's `serve_image_tensor` signature on one image of
    the model's input size (0..255; sent as uint8): detections in its
    pixels, as `KerasDetector` gives them."""

    def __init__(self, export_dir):
        self.signature = tf.saved_model.load(export_dir).signatures["serve_image_tensor"]

    def __call__(self, image):
        outputs = self.signature(images=tf.constant(as_uint8(image)[None]))
        return {key: value.numpy()[0] for key, value in outputs.items()}


def verify_detection_saved_model(model, export_dir, precision, dataset, max_images=20):
    """Checks the SavedModel in `export_dir` against `model` (float32, as
    trained) on a `CocoDataset`; prints and returns a summary: how many of
    Keras' top-10 detections per image the SavedModel also gives (same
    class, IoU >= 0.9), both COCO APs, and both latencies (batch 1).

    A model trained under a mixed policy is compared in its float32
    inference form, the model the SavedModel was made from: bfloat16
    rounding alone moves a few of the top detections."""
    input_size = model.preprocessor.image_size
    keras_name = "Keras model as trained"
    from spinenet_tf.models.inference_form import compute_dtype_of, inference_model

    computes_in = compute_dtype_of(model)
    if computes_in != "float32":
        print(f"  (the Keras side is the model's float32 inference form: it was trained "
              f"in mixed {computes_in})")
        model = inference_model(model, "float32")
        keras_name = "its Keras float32 form"
    keras_float32 = KerasDetector(model)
    saved = SavedModelDetector(export_dir)

    def keras_detector(image):  # the same uint8 pixels the SavedModel gets
        return keras_float32(as_uint8(image))

    images = [fit_to_input(load_image(r.path), input_size)[0]
              for r in dataset.records[:max_images]]
    matched = compared = 0
    for image in images:
        m, c = top_detections_match(keras_detector(image), saved(image),
                                    top=TOP_DETECTIONS, min_iou=MIN_IOU)
        matched, compared = matched + m, compared + c
    summary = {"precision": precision, "top_detections_matched": [matched, compared]}
    print(f"  Keras' top-{TOP_DETECTIONS} detections on {len(images)} images with a "
          f"SavedModel ({precision}) one of the same class at IoU >= {MIN_IOU}: "
          f"{matched} of {compared}")
    name = f"saved_model_{precision}"
    metrics = coco_ap_of_detectors({"keras": keras_detector, name: saved}, dataset,
                                   input_size)
    ap = {key: value["AP"] for key, value in metrics.items()}
    summary.update(keras_ap=ap["keras"], saved_model_ap=ap[name],
                   ap_difference=ap[name] - ap["keras"])
    print(f"  COCO AP on {dataset.num_images} images: Keras float32 {ap['keras']:.3f}, "
          f"SavedModel {precision} {ap[name]:.3f} "
          f"({100 * (ap[name] - ap['keras']):+.1f} points)")
    summary["latency_ms"] = latency_ms(saved, images[0])
    summary["keras_latency_ms"] = latency_ms(keras_detector, images[0])
    print(f"  latency (batch 1, median of 20): SavedModel {summary['latency_ms']:.1f} ms, "
          f"{keras_name} {summary['keras_latency_ms']:.1f} ms")
    return summary
