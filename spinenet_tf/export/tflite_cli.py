"""`export_saved_model.py --tflite ...`: convert, write, verify, report."""

import glob
import os

import numpy as np

from spinenet_tf.export.tflite import convert_to_tflite, write_tflite
from spinenet_tf.export.verify import (
    KerasDetector, TFLiteDetector, coco_ap_of_keras_and_tflite, fit_to_input,
    load_image, tflite_detections, tflite_latency_ms, top_detections_match)

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
                             calibration_images=100, verify=False, verify_images=20):
    """Writes `export_dir/model_<quantization>.tflite`; returns a summary dict."""
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
                                   uint8_input=uint8_input)
    path, size = write_tflite(flatbuffer, os.path.join(export_dir,
                                                       f"model_{quantization}.tflite"))
    summary = {"tflite": path, "tflite_mib": size / 2**20}
    print(f"TFLite {quantization}: {path}, {size / 2**20:.2f} MiB")
    if not verify:
        return summary
    if not is_detector or raw_outputs:
        raise ValueError("--verify checks detectors exported with post-processing.")
    dataset = _coco_dataset(config.eval_data)
    # int8 files crash LiteRT's XNNPACK delegate (see TFLiteDetector).
    xnnpack = quantization != "int8"
    detector = TFLiteDetector(flatbuffer, xnnpack=xnnpack)
    if not xnnpack:
        print("  running int8 without the XNNPACK delegate (it aborts on these files)")
    images = [fit_to_input(load_image(r.path), input_size)[0]
              for r in dataset.records[:verify_images]]
    if quantization == "fp32":
        raw = TFLiteDetector(convert_to_tflite(model, "fp32", post_processing=False))
        from spinenet_tf.data.preprocessing import normalize_image
        from spinenet_tf.detection.anchor_generator import flatten_multilevel

        worst = 0.0
        for image in images:
            out = raw(image)
            expected = model(normalize_image(image / 255.0)[None], training=False)
            worst = max(worst, float(np.max(np.abs(
                out["class_logits"] - flatten_multilevel(expected["class_logits"],
                                                         model.num_classes)))),
                        float(np.max(np.abs(out["box_deltas"] - flatten_multilevel(
                            expected["box_deltas"], 4)))))
        summary["raw_max_abs_difference"] = worst
        print(f"  raw outputs vs Keras on {len(images)} images: max |difference| "
              f"{worst:.2e} ({'within' if worst <= 1e-3 else 'OVER'} 1e-3)")
    matched = compared = 0
    keras_detector = KerasDetector(model)
    for image in images:
        m, c = top_detections_match(keras_detector(image),
                                    tflite_detections(detector, image))
        matched, compared = matched + m, compared + c
    summary["top_detections_matched"] = [matched, compared]
    print(f"  top-5 detections with the same class at IoU >= 0.9: {matched} of {compared}")
    metrics = coco_ap_of_keras_and_tflite(model, detector, dataset, progress=True,
                                          keras_detector=keras_detector)
    keras_ap, tflite_ap = metrics["keras"]["AP"], metrics["tflite"]["AP"]
    summary.update(keras_ap=keras_ap, tflite_ap=tflite_ap,
                   ap_difference=tflite_ap - keras_ap)
    print(f"  COCO AP on {dataset.num_images} images: Keras {keras_ap:.3f}, TFLite "
          f"{tflite_ap:.3f} (difference {100 * (tflite_ap - keras_ap):+.1f} points)")
    latency = tflite_latency_ms(detector, images[0])
    summary["latency_ms"] = latency
    print(f"  latency (2 threads, median of 20{'' if xnnpack else ', no XNNPACK'}): "
          f"{latency:.1f} ms")
    return summary
