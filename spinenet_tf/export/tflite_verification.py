"""`--verify` for a detection `.tflite` (raw outputs, top detections, COCO
AP and latency against the Keras model it came from), and the AP an int8
file costs against the fp32 one (`Int8ApCost`, what the int8 AP budget
measures), on the task's evaluation data (`Task.evaluation_data`)."""

import numpy as np

from spinenet_tf.evaluation.detection_evaluation import keras_detect
from spinenet_tf.export.detection_matching import (
    first_images,
    match_top_detections,
    suppress_across_classes,
)
from spinenet_tf.export.exported_detectors import TFLiteDetector, pixels_of
from spinenet_tf.export.latency import latency_ms
from spinenet_tf.export.tflite import convert_to_tflite


def raw_output_difference(model, images):
    """Largest |difference| of an fp32 raw-output `.tflite` and the Keras
    model on a batch of normalised model input."""
    raw = TFLiteDetector(convert_to_tflite(model, "fp32", post_processing=False),
                         model.preprocessor)
    worst = 0.0
    for image, pixels in zip(images, pixels_of(model.preprocessor, images)):
        received = raw.run(pixels)
        expected = model.tflite_outputs(model.preprocessor.normalize(pixels[None]),
                                        post_processing=False)
        for key, value in expected.items():
            worst = max(worst, float(np.max(np.abs(received[key] - np.asarray(value)))))
    return worst


def _threads(nms):
    # The op's multi-threaded regular NMS drops a class
    # (TFLitePostProcessConfig.from_generator).
    return 1 if nms == "regular" else 2


class Int8ApCost:
    """The COCO AP points an int8 detection file loses against the model's
    fp32 file (same post-processing) on the evaluation data: positive is a
    loss. Called with int8 flatbuffers; the fp32 file is converted and
    evaluated once."""

    def __init__(self, model, evaluation, nms="fast", uint8_input=False):
        self.evaluation, self.nms = evaluation, nms
        self.preprocessor = model.preprocessor
        self.fp32_flatbuffer = convert_to_tflite(model, "fp32", nms=nms,
                                                 uint8_input=uint8_input)
        self.fp32_ap, self.num_images = self._ap(self.fp32_flatbuffer)

    def _ap(self, flatbuffer):
        detector = TFLiteDetector(flatbuffer, self.preprocessor, threads=_threads(self.nms))
        metrics = self.evaluation.evaluate(detector, progress=False)
        return metrics["AP"], metrics["evaluated_images"]

    def __call__(self, flatbuffer):
        return 100 * (self.fp32_ap - self._ap(flatbuffer)[0])


def verify_detection_tflite(model, flatbuffer, quantization, evaluation, nms="fast",
                            max_images=20, fp32_flatbuffer=None):
    """Checks a detection `.tflite` on the evaluation data; prints and returns
    a summary. A quantized file's COCO AP is set beside the Keras model's and
    beside an fp32 file's with the same post-processing (`fp32_flatbuffer`,
    converted here if None), so the quantization's own cost is not mixed up
    with the op's NMS semantics."""
    summary = {}
    threads = _threads(nms)
    detector = TFLiteDetector(flatbuffer, model.preprocessor, threads=threads)
    print(f"  running in LiteRT (XNNPACK delegate) on {threads} "
          f"thread{'s' * (threads > 1)}")
    images, _ = first_images(evaluation.dataset, max_images)
    if quantization == "fp32":
        summary["raw_max_abs_difference"] = raw_output_difference(model, images)
        print(f"  raw outputs vs Keras on {len(images)} images: max |difference| "
              f"{summary['raw_max_abs_difference']:.2e} "
              f"({'within' if summary['raw_max_abs_difference'] <= 1e-3 else 'OVER'} 1e-3)")
    keras = keras_detect(model)
    iou_threshold = model.detection_generator.nms_iou_threshold
    matched, compared, _ = match_top_detections(
        keras, detector, evaluation.dataset, max_images,
        adjust_expected=(lambda d: suppress_across_classes(d, iou_threshold))
        if nms == "fast" else None)  # the op keeps one box per object, of any class
    summary["top_detections_matched"] = [matched, compared]
    print(f"  Keras' top-5 detections{' after class-agnostic NMS' * (nms == 'fast')} "
          f"with a TFLite one of the same class at IoU >= 0.9: {matched} of {compared}")
    detectors = {"keras": keras, quantization: detector}
    if quantization != "fp32":
        detectors["fp32"] = TFLiteDetector(
            fp32_flatbuffer or convert_to_tflite(model, "fp32", nms=nms),
            model.preprocessor, threads=threads)
    ap = {name: evaluation.evaluate(detect, description=f"verifying {name}")
          for name, detect in detectors.items()}
    count = ap["keras"]["evaluated_images"]
    ap = {name: metrics["AP"] for name, metrics in ap.items()}
    summary.update(keras_ap=ap["keras"], tflite_ap=ap[quantization],
                   ap_difference=ap[quantization] - ap["keras"])
    line = (f"  COCO AP on {count} images: Keras {ap['keras']:.3f}, "
            f"TFLite {quantization} {ap[quantization]:.3f} "
            f"({100 * (ap[quantization] - ap['keras']):+.1f} points)")
    if quantization != "fp32":
        summary.update(tflite_fp32_ap=ap["fp32"],
                       quantization_ap_difference=ap[quantization] - ap["fp32"])
        change = 100 * (ap[quantization] - ap["fp32"])
        line += (f"; TFLite fp32 {ap['fp32']:.3f}, so {quantization} "
                 f"{'loses' if change < 0 else 'gains'} {abs(change):.1f} points to fp32")
    print(line)
    latency = latency_ms(detector.run, pixels_of(model.preprocessor, images[:1])[0])
    summary["latency_ms"] = latency
    print(f"  latency ({threads} thread{'s' * (threads > 1)}, median of 20): "
          f"{latency:.1f} ms")
    return summary
