"""`--verify` for a detection SavedModel: the exported file (batch norm
folded, in its precision) against the Keras model it came from: top
detections, COCO AP and latency, on the same uint8 images of the task's
evaluation data."""

from spinenet_tf.evaluation.detection_evaluation import keras_detect
from spinenet_tf.export.detection_matching import first_images, match_top_detections
from spinenet_tf.export.exported_detectors import (
    SavedModelDetector,
    as_uint8,
    on_uint8_pixels,
    pixels_of,
)
from spinenet_tf.export.latency import latency_ms
from spinenet_tf.quantization.inference_form import compute_dtype_of, inference_model

TOP_DETECTIONS = 10
MIN_IOU = 0.9


def verify_detection_saved_model(model, export_dir, precision, evaluation, max_images=20):
    """Checks the SavedModel in `export_dir` against `model` (float32, as
    trained) on the evaluation data; prints and returns a summary: how many
    of Keras' top-10 detections per image the SavedModel also gives (same
    class, IoU >= 0.9), both COCO APs, and both latencies (batch 1).

    A model trained under a mixed policy is compared in its float32
    inference form, the model the SavedModel was made from: bfloat16
    rounding alone moves a few of the top detections."""
    keras_name = "Keras model as trained"
    computes_in = compute_dtype_of(model)
    if computes_in != "float32":
        print(f"  (the Keras side is the model's float32 inference form: it was trained "
              f"in mixed {computes_in})")
        model = inference_model(model, "float32")
        keras_name = "its Keras float32 form"
    keras = on_uint8_pixels(keras_detect(model), model.preprocessor)
    saved = SavedModelDetector(export_dir, model.preprocessor)
    matched, compared, seen = match_top_detections(
        keras, saved, evaluation.dataset, max_images, top=TOP_DETECTIONS, min_iou=MIN_IOU)
    summary = {"precision": precision, "top_detections_matched": [matched, compared]}
    print(f"  Keras' top-{TOP_DETECTIONS} detections on {seen} images with a "
          f"SavedModel ({precision}) one of the same class at IoU >= {MIN_IOU}: "
          f"{matched} of {compared}")
    metrics = {name: evaluation.evaluate(detect, description=f"verifying {name}")
               for name, detect in (("keras", keras), ("saved_model", saved))}
    ap = {name: m["AP"] for name, m in metrics.items()}
    summary.update(keras_ap=ap["keras"], saved_model_ap=ap["saved_model"],
                   ap_difference=ap["saved_model"] - ap["keras"])
    print(f"  COCO AP on {metrics['keras']['evaluated_images']} images: Keras float32 "
          f"{ap['keras']:.3f}, SavedModel {precision} {ap['saved_model']:.3f} "
          f"({100 * (ap['saved_model'] - ap['keras']):+.1f} points)")
    if "mask_AP" in metrics["keras"]:
        masks = {name: m["mask_AP"] for name, m in metrics.items()}
        summary.update(keras_mask_ap=masks["keras"], saved_model_mask_ap=masks["saved_model"])
        print(f"  COCO mask AP: Keras float32 {masks['keras']:.3f}, SavedModel {precision} "
              f"{masks['saved_model']:.3f} "
              f"({100 * (masks['saved_model'] - masks['keras']):+.1f} points)")
    images, infos = first_images(evaluation.dataset, 1)
    summary["latency_ms"] = latency_ms(saved.run, as_uint8(pixels_of(model.preprocessor,
                                                                     images)))
    summary["keras_latency_ms"] = latency_ms(keras, images, infos)
    print(f"  latency (batch 1, median of 20): SavedModel {summary['latency_ms']:.1f} ms, "
          f"{keras_name} {summary['keras_latency_ms']:.1f} ms")
    return summary
