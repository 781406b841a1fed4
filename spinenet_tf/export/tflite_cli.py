"""`export_saved_model.py --tflite ...`: convert, write, verify, report."""

import glob
import os

from spinenet_tf.export.tflite import convert_to_tflite, write_tflite
from spinenet_tf.export.verify import fit_to_input, load_image
from spinenet_tf.native_logs import native_log_filter

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


def image_paths(folder, count):
    """Up to `count` image files spread over `folder` (recursively)."""
    paths = sorted(p for p in glob.glob(os.path.join(folder, "**", "*"), recursive=True)
                   if p.lower().endswith(IMAGE_SUFFIXES))
    if not paths:
        raise FileNotFoundError(f"No images (.jpg, .png, ...) under {folder!r}.")
    step = max(len(paths) // count, 1)
    return paths[::step][:count]


def export_and_verify_tflite(model, task, export_dir, quantization, raw_outputs=False,
                             uint8_input=False, calibration_data=None,
                             calibration_images=100, verify=False, verify_images=20,
                             nms="fast"):
    """Writes `export_dir/model_<quantization>.tflite`; returns a summary dict.

    `task` (the experiment's `spinenet_tf.tasks.Task`, or None without a
    config) names the default calibration images and checks the file with
    `verify` (`Task.verify_tflite`). The converter's and LiteRT's C++ log
    lines go to `export_dir/native_log.txt`, not the console.
    """
    os.makedirs(export_dir, exist_ok=True)
    with native_log_filter(os.path.join(export_dir, "native_log.txt")):
        return _export_and_verify_tflite(
            model, task, export_dir, quantization, raw_outputs, uint8_input,
            calibration_data, calibration_images, verify, verify_images, nms)


def _export_and_verify_tflite(model, task, export_dir, quantization, raw_outputs,
                              uint8_input, calibration_data, calibration_images,
                              verify, verify_images, nms):
    if model.compute_dtype != "float32":
        # A model trained under a mixed policy computes in bfloat16 / float16,
        # ops the converter cannot quantize or run: convert (and verify) its
        # float32 inference form, the same weights with batch norm folded.
        from spinenet_tf import inference_model

        print(f"TFLite starts from the float32 inference form of the "
              f"{model.dtype_policy.name} model (batch norm folded)")
        model = inference_model(model, "float32")
    representative = None
    if quantization == "int8":
        folder = calibration_data or (task.calibration_folder() if task else None)
        if not folder:
            raise ValueError("int8 needs --calibration_data (an image folder); the "
                             "config names no training images.")
        paths = image_paths(folder, calibration_images)
        representative = [fit_to_input(load_image(p), model.preprocessor.image_size)[0]
                          for p in paths]
        print(f"Calibrating int8 on {len(representative)} images from {folder}")
    flatbuffer = convert_to_tflite(model, quantization, post_processing=not raw_outputs,
                                   representative_images=representative,
                                   uint8_input=uint8_input, nms=nms)
    path, size = write_tflite(flatbuffer, os.path.join(export_dir,
                                                       f"model_{quantization}.tflite"))
    summary = {"tflite": path, "tflite_mib": size / 2**20}
    print(f"TFLite {quantization}: {path}, {size / 2**20:.2f} MiB")
    if verify:
        if task is None or raw_outputs:
            raise ValueError("--verify needs a config (for its evaluation data) and "
                             "a file with post-processing (no --tflite_raw_outputs).")
        summary.update(task.verify_tflite(model, flatbuffer, quantization, nms=nms,
                                          max_images=verify_images))
    return summary
