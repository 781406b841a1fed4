"""`export_saved_model.py --tflite ...`: convert, write, verify, report."""

import functools
import glob
import os

import numpy as np

from spinenet_tf.export.tflite import convert_to_tflite, write_tflite
from spinenet_tf.export.verify import (
    KerasDetector, TFLiteDetector, coco_ap_of_detectors, fit_to_input, load_image,
    suppress_across_classes, tflite_detections, tflite_latency_ms, top_detections_match)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


def _image_paths(folder, count):
    paths = sorted(p for p in glob.glob(os.path.join(folder, "**", "*"), recursive=True)
                   if p.lower().endswith(IMAGE_SUFFIXES))
    if not paths:
        raise FileNotFoundError(f"No images (.jpg, .png, ...) under {folder!r}.")
    step = max(len(paths) // count, 1)
    return paths[::step][:count]


def _coco_dataset(data):
    from spinenet_tf.data.coco import load_coco

    if data.source != "coco" or not data.annotations:
        raise ValueError(f"--verify needs COCO-format evaluation data (annotations + "
                         f"image_dir) in the config; received source {data.source!r}.")
    return load_coco(data.annotations, data.image_dir)


def export_and_verify_tflite(model, config, export_dir, quantization, raw_outputs=False,
                             uint8_input=False, calibration_data=None,
                             calibration_images=100, verify=False, verify_images=20,
                             nms="fast"):
    """Writes `export_dir/model_<quantization>.tflite`; returns a summary dict.

    With `verify`, a quantized file's COCO AP is set beside the Keras
    model's and beside an fp32 file's with the same post-processing, so the
    quantization's own cost is not mixed up with the op's NMS semantics.
    """
    is_detector = hasattr(model, "decode_detections")
    input_size = tuple(int(s) for s in model.inputs[0].shape[1:3])
    representative = None
    if quantization == "int8":
        folder = calibration_data or (config.train_data.image_dir if config else None)
        if not folder:
            raise ValueError("int8 needs --calibration_data (an image folder); the "
                             "config names no training images.")
        paths = _image_paths(folder, calibration_images)
        representative = [fit_to_input(load_image(p), input_size)[0] for p in paths]
        print(f"Calibrating int8 on {len(representative)} images from {folder}")
    flatbuffer = convert_to_tflite(model, quantization,
                                   post_processing=is_detector and not raw_outputs,
                                   representative_images=representative,
                                   uint8_input=uint8_input, nms=nms)
    path, size = write_tflite(flatbuffer, os.path.join(export_dir,
                                                       f"model_{quantization}.tflite"))
    summary = {"tflite": path, "tflite_mib": size / 2**20}
    print(f"TFLite {quantization}: {path}, {size / 2**20:.2f} MiB")
    if not verify:
        return summary
    if not is_detector or raw_outputs:
        raise ValueError("--verify checks detectors exported with post-processing.")
    dataset = _coco_dataset(config.eval_data)
    # The op's multi-threaded regular NMS drops a class (see
    # detector_post_process_config).
    threads = 1 if nms == "regular" else 2
    detector = TFLiteDetector(flatbuffer, threads=threads)
    print(f"  running in LiteRT (XNNPACK delegate) on {threads} "
          f"thread{'s' * (threads > 1)}")
    images = [fit_to_input(load_image(r.path), input_size)[0]
              for r in dataset.records[:verify_images]]
    if quantization == "fp32":
        summary["raw_max_abs_difference"] = _raw_output_difference(model, images)
        print(f"  raw outputs vs Keras on {len(images)} images: max |difference| "
              f"{summary['raw_max_abs_difference']:.2e} "
              f"({'within' if summary['raw_max_abs_difference'] <= 1e-3 else 'OVER'} 1e-3)")
    matched = compared = 0
    keras_detector = KerasDetector(model)
    for image in images:
        expected = keras_detector(image)
        if nms == "fast":  # the op keeps one box per object, of any class
            expected = suppress_across_classes(
                expected, model.detection_decoder.nms_iou_threshold)
        m, c = top_detections_match(expected, tflite_detections(detector, image))
        matched, compared = matched + m, compared + c
    summary["top_detections_matched"] = [matched, compared]
    print(f"  Keras' top-5 detections{' after class-agnostic NMS' * (nms == 'fast')} "
          f"with a TFLite one of the same class at IoU >= 0.9: {matched} of {compared}")
    detectors = {"keras": keras_detector,
                 quantization: functools.partial(tflite_detections, detector)}
    if quantization != "fp32":
        fp32 = TFLiteDetector(convert_to_tflite(model, "fp32", nms=nms), threads=threads)
        detectors["fp32"] = functools.partial(tflite_detections, fp32)
    metrics = coco_ap_of_detectors(detectors, dataset, input_size)
    ap = {name: m["AP"] for name, m in metrics.items()}
    summary.update(keras_ap=ap["keras"], tflite_ap=ap[quantization],
                   ap_difference=ap[quantization] - ap["keras"])
    line = (f"  COCO AP on {dataset.num_images} images: Keras {ap['keras']:.3f}, "
            f"TFLite {quantization} {ap[quantization]:.3f} "
            f"({100 * (ap[quantization] - ap['keras']):+.1f} points)")
    if quantization != "fp32":
        summary.update(tflite_fp32_ap=ap["fp32"],
                       quantization_ap_difference=ap[quantization] - ap["fp32"])
        line += (f"; TFLite fp32 {ap['fp32']:.3f}, so quantization costs "
                 f"{100 * (ap[quantization] - ap['fp32']):+.1f} points")
    print(line)
    latency = tflite_latency_ms(detector, images[0])
    summary["latency_ms"] = latency
    print(f"  latency ({threads} thread{'s' * (threads > 1)}, median of 20): "
          f"{latency:.1f} ms")
    return summary


def _raw_output_difference(model, images):
    """Largest |difference| of an fp32 raw-output `.tflite` and the Keras model."""
    from spinenet_tf.data.preprocessing import normalize_image
    from spinenet_tf.detection.anchor_generator import flatten_multilevel

    raw = TFLiteDetector(convert_to_tflite(model, "fp32", post_processing=False))
    worst = 0.0
    for image in images:
        out = raw(image)
        expected = model(normalize_image(image / 255.0)[None], training=False)
        worst = max(worst, float(np.max(np.abs(
            out["class_logits"] - flatten_multilevel(expected["class_logits"],
                                                     model.num_classes)))),
                    float(np.max(np.abs(out["box_deltas"] - flatten_multilevel(
                        expected["box_deltas"], 4)))))
    return worst
