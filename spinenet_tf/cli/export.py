"""Export a trained model (any family) as a SavedModel for TF Serving, and a
detector as a `.tflite` for phones.

    # a train.py model dir (its model.keras at the latest checkpoint):
    python export_saved_model.py --model_dir runs/demo --export_dir exports/demo
    # a config alone (random weights, for trying things):
    python export_saved_model.py --config configs/retinanet_spinenet49s_coco.yaml \\
        --export_dir exports/r49s
    # a tf-models-official RetinaNet checkpoint, with the matching config:
    python export_saved_model.py --config configs/retinanet_spinenet49s_coco.yaml \\
        --model_garden_checkpoint /ckpt/r49s --export_dir exports/r49s

Signatures: serving_default / serve_image_tensor (uint8 [batch, h, w, 3]),
serve_encoded_image (JPEG/PNG bytes [batch]), serve_tf_example (serialized
tf.Example [batch]); see docs/export.md. `--batch_size N` fixes the batch.

The SavedModel holds the model's inference form (`spinenet_tf.inference_model`:
batch norm folded into the convolutions) in `--precision float32` (default;
the same detections) or `bfloat16` (faster where the CPU has AVX-512 BF16 or
AMX; `--verify` prints what it costs in COCO AP):

    python export_saved_model.py --model_dir runs/demo --export_dir exports/demo_bf16 \
        --precision bfloat16 --verify

    # TFLite beside the SavedModel, int8 calibrated on training images,
    # verified against the Keras model on the evaluation data; prints the
    # layers with the largest quantization error (all in
    # model_int8_layers.csv) and keeps the worst float until int8 costs at
    # most --int8_ap_budget AP points (default 1.0) against fp32:
    python export_saved_model.py --model_dir runs/demo --export_dir exports/demo \
        --tflite int8 --uint8_input --verify
"""

import os

from absl import app, flags

from spinenet_tf.cli.errors import with_clear_errors
from spinenet_tf.cli.interruptions import folder_not_written
from spinenet_tf.cli.program import run_program
from spinenet_tf.config import load_config
from spinenet_tf.export import export_saved_model
from spinenet_tf.export.finite_weights import check_finite_weights
from spinenet_tf.export.saved_model_verification import verify_detection_saved_model
from spinenet_tf.export.tflite_export import export_and_verify_tflite
from spinenet_tf.models.base.task import task_for_config
from spinenet_tf.pretrained import load_model_garden_checkpoint
from spinenet_tf.quantization import inference_model
from spinenet_tf.training.checkpoints import CONFIG_FILE, load_model_dir
from spinenet_tf.training.model_building import build_training_model
from spinenet_tf.utils.atomic_files import atomic_directory
from spinenet_tf.utils.native_logs import native_log_filter

MODEL_DIR = flags.DEFINE_string("model_dir", None, "A train.py model dir to export.")
CONFIG = flags.DEFINE_string("config", None, "An experiment YAML (without --model_dir).")
OVERRIDES = flags.DEFINE_multi_string("set", [], "Config override section.key=value.")
GARDEN_CHECKPOINT = flags.DEFINE_string(
    "model_garden_checkpoint", None,
    "A Model Garden (tf-models-official) checkpoint of the config's model to load "
    "(with --config).")
EXPORT_DIR = flags.DEFINE_string("export_dir", None, "Where to write the SavedModel.",
                                 required=True)
BATCH_SIZE = flags.DEFINE_integer("batch_size", None, "Fixed batch size (default: dynamic).")
PRECISION = flags.DEFINE_enum(
    "precision", "float32", ["float32", "bfloat16"],
    "Arithmetic of the SavedModel, whose batch norms are folded into the convs: "
    "float32 (the trained model's detections) or bfloat16 (faster on CPUs with "
    "AVX-512 BF16 / AMX; float32 inputs, outputs and NMS). TFLite files are "
    "converted from the float32 model either way.")
TFLITE = flags.DEFINE_enum("tflite", None, ["fp32", "fp16", "dynamic", "int8"],
                           "Also write export_dir/model_<type>.tflite.")
RAW_OUTPUTS = flags.DEFINE_boolean(
    "tflite_raw_outputs", False, "TFLite ends in raw class logits and box deltas "
    "instead of TFLite_Detection_PostProcess.")
NMS = flags.DEFINE_enum(
    "tflite_nms", "fast", ["fast", "regular"],
    "The TFLite op's NMS: fast (class-agnostic, one class per box) or regular "
    "(per-class, as the Keras model; run it with 1 thread, LiteRT's "
    "multi-threaded regular NMS drops a class; see docs/export.md).")
UINT8_INPUT = flags.DEFINE_boolean("uint8_input", False, "int8 TFLite takes uint8 images.")
CALIBRATION_DATA = flags.DEFINE_string(
    "calibration_data", None, "Image folder to calibrate int8 on (default: the "
    "config's training images).")
CALIBRATION_IMAGES = flags.DEFINE_integer("calibration_images", 100,
                                          "Images to calibrate int8 on.")
INT8_AP_BUDGET = flags.DEFINE_float(
    "int8_ap_budget", 1.0, "With --tflite int8 --verify: keep the layers with the "
    "largest quantization error in float until int8 loses at most this many COCO AP "
    "points against the fp32 file on the evaluation data (inf: all layers int8).")
INT8_MAX_FLOAT_LAYERS = flags.DEFINE_integer(
    "int8_max_float_layers", 64, "The most layers --int8_ap_budget keeps in float.")
VERIFY = flags.DEFINE_boolean(
    "verify", False, "Check the SavedModel (and the .tflite) against the Keras model "
    "on the config's evaluation data: top detections, COCO AP difference, latency "
    "(and the .tflite's raw outputs, fp32).")
VERIFY_IMAGES = flags.DEFINE_integer("verify_images", 20, "Images for --verify.")
PASTE_MASKS = flags.DEFINE_boolean(
    "paste_masks", False, "Mask R-CNN: the signatures also return detection_pasted_masks, "
    "each mask pasted into its original image (uint8 [batch, 100, height, width]).")


def load_model():
    """The model to export, its task (None without a config) and where its
    weights came from."""
    if MODEL_DIR.value:
        model, checkpoint = load_model_dir(MODEL_DIR.value)
        config_path = os.path.join(MODEL_DIR.value, CONFIG_FILE)
        task = (task_for_config(load_config(config_path))
                if os.path.exists(config_path) else None)
        return model, task, f"weights from {checkpoint or 'model.keras'}"
    config = load_config(CONFIG.value, OVERRIDES.value)
    task = task_for_config(config)
    model = build_training_model(config, task)
    if not GARDEN_CHECKPOINT.value:
        return model, task, ("random weights (no checkpoint given)" if not config.model.init_from
                             else f"weights of {config.model.init_from}")
    load_model_garden_checkpoint(model, GARDEN_CHECKPOINT.value)
    return model, task, f"weights from the Model Garden checkpoint {GARDEN_CHECKPOINT.value}"


def check_flags():
    """Usage errors that need nothing loaded."""
    if bool(MODEL_DIR.value) == bool(CONFIG.value):
        raise app.UsageError("Give exactly one of --model_dir and --config; received "
                             f"--model_dir={MODEL_DIR.value!r} --config={CONFIG.value!r}.")
    if MODEL_DIR.value and (GARDEN_CHECKPOINT.value or OVERRIDES.value):
        raise app.UsageError("--model_garden_checkpoint and --set go with --config.")
    if MODEL_DIR.value and not os.path.isdir(MODEL_DIR.value):
        raise FileNotFoundError(f"--model_dir {MODEL_DIR.value!r} is not a folder.")


def directory_size(path):
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names)


@with_clear_errors(interrupted=lambda: folder_not_written(EXPORT_DIR.value, "export"))
def main(argv):
    del argv
    check_flags()
    final = os.path.abspath(EXPORT_DIR.value)
    # The folder is built beside and renamed into place when complete: a
    # killed or failed export leaves the previous export (or none) at
    # --export_dir, and a failed one its log in the `.partial` folder. C++
    # log lines of TensorFlow, the TFLite converter and LiteRT go to a file
    # in it, not the console.
    with atomic_directory(final, keep_failed=True) as folder:
        with native_log_filter(os.path.join(folder, "native_log.txt")):
            model, task, source = load_model()
            if task is not None:
                task.check_export(tflite=TFLITE.value)
            if VERIFY.value and task is None:
                raise app.UsageError("--verify needs the experiment's config (for its "
                                     "evaluation data); the model dir has no config.yaml.")
            print(f"Exporting to {final} (built in {os.path.basename(folder)}, renamed "
                  "when complete)", flush=True)
            export(model, task, source, folder)
    print(f"Export complete: {final}")


def export(model, task, source, folder):
    """Writes the SavedModel (and the .tflite) of `model` into `folder`;
    messages name the files relative to it."""
    check_finite_weights(model, source)
    served = inference_model(model, PRECISION.value)
    check_finite_weights(served, source, "folded weights (a batch norm's moving variance "
                         "below -epsilon?)")
    path = export_saved_model(served, folder, batch_size=BATCH_SIZE.value, atomic=False,
                              paste_masks=PASTE_MASKS.value)
    print(f"SavedModel ({source}; batch norm folded, {PRECISION.value}): "
          f"{directory_size(path) / 2**20:.1f} MiB; signatures serving_default, "
          "serve_image_tensor, serve_encoded_image, serve_tf_example")
    if VERIFY.value:
        verify_detection_saved_model(model, path, PRECISION.value, task.evaluation_data(model),
                                     max_images=VERIFY_IMAGES.value)
    if TFLITE.value:
        export_and_verify_tflite(
            model, task, folder, TFLITE.value, raw_outputs=RAW_OUTPUTS.value,
            uint8_input=UINT8_INPUT.value, calibration_data=CALIBRATION_DATA.value,
            calibration_images=CALIBRATION_IMAGES.value, verify=VERIFY.value,
            verify_images=VERIFY_IMAGES.value, nms=NMS.value,
            int8_ap_budget=INT8_AP_BUDGET.value,
            int8_max_float_layers=INT8_MAX_FLOAT_LAYERS.value)


def run():
    run_program(main, __name__)


if __name__ == "__main__":
    run()
