"""`--verify` for a detection `.tflite`: raw outputs, top detections, COCO AP
and latency against the Keras model it came from."""

import functools

import numpy as np

from spinenet_tf.export.tflite import convert_to_tflite
from spinenet_tf.export.verify import (
    KerasDetector, TFLiteDetector, coco_ap_of_detectors, fit_to_input, load_image,
    suppress_across_classes, tflite_detections, latency_ms, top_detections_match)


def raw_output_difference(model, images):
    """Largest |difference| of an fp32 raw-output `.tflite` and the Keras
    model on input-size pixel images."""
    raw = TFLiteDetector(convert_to_tflite(model, "fp32", post_processing=False))
    worst = 0.0
    for image in images:
        received = raw(image)
        expected = model.tflite_outputs(model.preprocessor.normalize(image[None]),
                                        post_processing=False)
        for key, value in expected.items():
            worst = max(worst, float(np.max(np.abs(received[key] - np.asarray(value)))))
    return worst


def _threads(nms):
    # The op's multi-threaded regular NMS drops a class
    # (TFLitePostProcessConfig.from_decoder).
    return 1 if nms == "regular" else 2


class Int8ApCost:
    """The COCO AP points an int8 detection file loses against the model's
    fp32 file (same post-processing) on a `CocoDataset`: positive is a loss.
    Called with int8 flatbuffers; the fp32 file is converted and evaluated
    once."""

    def __init__(self, model, dataset, nms="fast", uint8_input=False):
        self.dataset, self.nms = dataset, nms
        self.input_size = model.preprocessor.image_size
        self.num_images = dataset.num_images
        self.fp32_flatbuffer = convert_to_tflite(model, "fp32", nms=nms,
                                                 uint8_input=uint8_input)
        self.fp32_ap = self._ap(self.fp32_flatbuffer)

    def _ap(self, flatbuffer):
        detector = TFLiteDetector(flatbuffer, threads=_threads(self.nms))
        metrics = coco_ap_of_detectors(
            {"tflite": functools.partial(tflite_detections, detector)}, self.dataset,
            self.input_size, progress=False)
        return metrics["tflite"]["AP"]

    def __call__(self, flatbuffer):
        return 100 * (self.fp32_ap - self._ap(flatbuffer))


def verify_detection_tflite(model, flatbuffer, quantization, dataset, nms="fast",
                            max_images=20, fp32_flatbuffer=None):
    """Checks a detection `.tflite` on a `CocoDataset`; prints and returns a
    summary. A quantized file's COCO AP is set beside the Keras model's and
    beside an fp32 file's with the same post-processing (`fp32_flatbuffer`,
    converted here if None), so the quantization's own cost is not mixed up
    with the op's NMS semantics."""
    input_size = model.preprocessor.image_size
    summary = {}
    threads = _threads(nms)
    detector = TFLiteDetector(flatbuffer, threads=threads)
    print(f"  running in LiteRT (XNNPACK delegate) on {threads} "
          f"thread{'s' * (threads > 1)}")
    images = [fit_to_input(load_image(r.path), input_size)[0]
              for r in dataset.records[:max_images]]
    if quantization == "fp32":
        summary["raw_max_abs_difference"] = raw_output_difference(model, images)
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
        fp32 = TFLiteDetector(fp32_flatbuffer or convert_to_tflite(model, "fp32", nms=nms),
                              threads=threads)
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
        change = 100 * (ap[quantization] - ap["fp32"])
        line += (f"; TFLite fp32 {ap['fp32']:.3f}, so {quantization} "
                 f"{'loses' if change < 0 else 'gains'} {abs(change):.1f} points to fp32")
    print(line)
    latency = latency_ms(detector, images[0])
    summary["latency_ms"] = latency
    print(f"  latency ({threads} thread{'s' * (threads > 1)}, median of 20): "
          f"{latency:.1f} ms")
    return summary
