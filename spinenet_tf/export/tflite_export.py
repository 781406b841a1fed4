"""A `.tflite` export as the export command and the demo run it: convert,
add the runtime's metadata, write, verify, report."""

import dataclasses
import glob
import os

import tensorflow as tf

from spinenet_tf.compat.tensorflow_internals import tflite_flatbuffer_utils
from spinenet_tf.data.image_files import load_image
from spinenet_tf.export.mediapipe_metadata import add_detector_metadata, mediapipe_available
from spinenet_tf.export.tflite import convert_to_tflite, int8_quantizer, write_tflite
from spinenet_tf.export.tflite_verification import Int8ApCost, verify_detection_tflite
from spinenet_tf.quantization.inference_form import compute_dtype_of, inference_model
from spinenet_tf.quantization.int8_quantizer import (
    describe_ap_cost,
    format_report,
    quantize_within_budget,
    write_report,
)
from spinenet_tf.utils.native_logs import native_log_filter

# The custom op a detection `.tflite` ends in (MediaPipe's ObjectDetector reads it).
DETECTION_POST_PROCESS_OP = b"TFLite_Detection_PostProcess"

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


def image_paths(folder, count):
    """`count` image files spread over `folder` (recursively); an error
    naming the folder if it has fewer."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Calibration folder {folder!r} does not exist.")
    paths = sorted(p for p in glob.glob(os.path.join(folder, "**", "*"), recursive=True)
                   if p.lower().endswith(IMAGE_SUFFIXES))
    if not paths:
        raise FileNotFoundError(f"No images ({', '.join(IMAGE_SUFFIXES)}) under {folder!r}.")
    if len(paths) < count:
        raise ValueError(f"{count} calibration images requested, but {folder!r} has "
                         f"{len(paths)}; pass --calibration_images {len(paths)} or "
                         "another folder.")
    step = max(len(paths) // count, 1)
    return paths[::step][:count]


def calibration_images(folder, count, preprocessor):
    """`count` images of `folder` in the model's geometry (0..255 pixels,
    as the `.tflite` takes them); an error naming the file that cannot be
    decoded."""
    images = []
    for path in image_paths(folder, count):
        try:
            image = load_image(path)
        except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError) as error:
            raise ValueError(f"Calibration image {path!r} cannot be read as an image: "
                             f"{error.message.splitlines()[0]}") from None
        images.append(preprocessor.geometry(image)[0].numpy())
    return images


@dataclasses.dataclass(frozen=True)
class TFLiteExport:
    """What `export_saved_model.py --tflite ...` writes and checks.

    Attributes:
        quantization: "fp32", "fp16", "dynamic" or "int8".
        raw_outputs: end in the raw outputs instead of the post-processing op.
        uint8_input: the file takes uint8 pixels.
        calibration_data: int8: the image folder to calibrate on (default:
            the task's training images); `calibration_images` of them.
        verify: check the file against the Keras model on the task's
            evaluation data (`verify_images` images for the detection match).
        nms: the post-processing op's NMS, "fast" or "regular".
        int8_ap_budget: int8 with `verify`: keep the worst layers float until
            int8 loses at most this many AP points against fp32 (None: no
            budget), at most `int8_max_float_layers` of them.
    """

    quantization: str
    raw_outputs: bool = False
    uint8_input: bool = False
    calibration_data: str = None
    calibration_images: int = 100
    verify: bool = False
    verify_images: int = 20
    nms: str = "fast"
    int8_ap_budget: float = 1.0
    int8_max_float_layers: int = 64


def export_and_verify_tflite(model, task, export_dir, quantization, **options):
    """Writes `export_dir/model_<quantization>.tflite`; returns a summary dict.

    `options` are `TFLiteExport`'s. `task` (the experiment's
    `spinenet_tf.models.base.Task`, or None without a config) names the
    default calibration images, the labels of a detection file's MediaPipe
    metadata (`with_detector_metadata`) and the evaluation data `verify`
    scores the file on (`Task.evaluation_data`). int8 also writes its
    per-layer error report `model_int8_layers.csv`. The converter's and
    LiteRT's C++ log lines go to `export_dir/native_log.txt`, not the
    console.
    """
    export = TFLiteExport(quantization, **options)
    os.makedirs(export_dir, exist_ok=True)
    with native_log_filter(os.path.join(export_dir, "native_log.txt")):
        return _export_and_verify_tflite(model, task, export_dir, export)


def _export_and_verify_tflite(model, task, export_dir, export):
    computes_in = compute_dtype_of(model)
    if computes_in != "float32":
        # A model trained under a mixed policy computes in bfloat16 / float16,
        # ops the converter cannot quantize or run: convert (and verify) its
        # float32 inference form, the same weights with batch norm folded.
        print(f"TFLite starts from the float32 inference form of the model trained "
              f"in mixed {computes_in} (batch norm folded)")
        model = inference_model(model, "float32")
    if export.verify and (task is None or export.raw_outputs):
        raise ValueError("--verify needs a config (for its evaluation data) and "
                         "a file with post-processing (no --tflite_raw_outputs).")
    summary, fp32_flatbuffer = {}, None
    if export.quantization == "int8":
        flatbuffer, fp32_flatbuffer, int8_summary = _int8(model, task, export_dir, export)
        summary.update(int8_summary)
    else:
        flatbuffer = convert_to_tflite(
            model, export.quantization, post_processing=not export.raw_outputs,
            uint8_input=export.uint8_input, nms=export.nms)
    if not export.raw_outputs and task is not None:
        flatbuffer = with_detector_metadata(flatbuffer, task, model, summary)
    path, size = write_tflite(flatbuffer, os.path.join(
        export_dir, f"model_{export.quantization}.tflite"))
    summary.update(tflite=path, tflite_mib=size / 2**20)
    print(f"TFLite {export.quantization}: {os.path.basename(path)}, {size / 2**20:.2f} MiB")
    if export.verify:
        summary.update(verify_detection_tflite(
            model, flatbuffer, export.quantization, task.evaluation_data(model),
            nms=export.nms, max_images=export.verify_images,
            fp32_flatbuffer=fp32_flatbuffer))
    return summary


def ends_in_detection_post_process(flatbuffer):
    """Whether a `.tflite` ends in the detection post-processing op."""
    model = tflite_flatbuffer_utils().read_model_from_bytearray(bytearray(flatbuffer))
    return any(code.customCode == DETECTION_POST_PROCESS_OP for code in model.operatorCodes)


def with_detector_metadata(flatbuffer, task, model, summary):
    """A detection file with MediaPipe ObjectDetector metadata (labels from
    the task's data, normalisation, output roles) where the `mediapipe`
    extra is installed; other files as they are. Notes it in `summary`."""
    if not ends_in_detection_post_process(flatbuffer):
        return flatbuffer
    if not mediapipe_available():
        print("No MediaPipe metadata written (pip install 'spinenet_tf[mediapipe]' "
              "to make the file loadable by MediaPipe's ObjectDetector)")
        summary["mediapipe_metadata"] = False
        return flatbuffer
    labels = task.class_names(model.num_classes)
    print(f"MediaPipe ObjectDetector metadata: {len(labels)} labels "
          f"({', '.join(labels[:5])}{', ...' * (len(labels) > 5)}), 0..255 input")
    summary["mediapipe_metadata"] = True
    return add_detector_metadata(flatbuffer, labels)


def _int8(model, task, export_dir, export):
    """Calibrates, reports the layers' errors, quantizes (within the AP
    budget with `verify`); returns the int8 file, the fp32 file it was
    measured against (or None) and a summary."""
    folder = export.calibration_data or (task.calibration_folder() if task else None)
    if not folder:
        raise ValueError("int8 needs --calibration_data (an image folder); the "
                         "config names no training images.")
    images = calibration_images(folder, export.calibration_images, model.preprocessor)
    print(f"Calibrating int8 on {len(images)} images from {folder}")
    quantizer = int8_quantizer(model, images, post_processing=not export.raw_outputs,
                               uint8_input=export.uint8_input, nms=export.nms)
    report_path = os.path.join(export_dir, "model_int8_layers.csv")
    write_report(quantizer.report, report_path)
    print(f"int8 layers with the largest quantization error (RMSE / scale: the "
          f"error in quantization steps, on {min(len(images), 32)} calibration images):")
    print(format_report(quantizer.report))
    print(f"  all {len(quantizer.report)} layers: {os.path.basename(report_path)}")
    if quantizer.constant_nodes:
        print(f"  {len(quantizer.constant_nodes)} ops around activations that were "
              "constant during calibration stay float (XNNPACK cannot run them in int8)")
    summary = {"int8_report": report_path}
    budget, most = export.int8_ap_budget, export.int8_max_float_layers
    if not export.verify or budget is None:
        return quantizer.quantize(), None, summary
    # The fp32 file it is measured against takes the same input.
    cost = Int8ApCost(model, task.evaluation_data(model), nms=export.nms,
                      uint8_input=export.uint8_input)
    print(f"Keeping the worst layers float until int8 loses at most {budget:.2f} "
          f"AP points against fp32 (TFLite fp32 AP {cost.fp32_ap:.3f} on "
          f"{cost.num_images} evaluation images):")
    flatbuffer, layers, measured, met = quantize_within_budget(quantizer, cost, budget, most)
    if not met:
        print(f"  The AP budget of {budget:.2f} points cannot be met with up to "
              f"{most} float layers; writing the best file found: "
              f"{len(layers)} float layers, int8 {describe_ap_cost(measured)}.")
    summary.update(int8_float_layers=layers, int8_ap_cost=measured,
                   int8_ap_budget=budget, int8_ap_budget_met=met)
    return flatbuffer, cost.fp32_flatbuffer, summary
