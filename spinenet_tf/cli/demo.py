"""The README's main command: train and evaluate a SpineNet-Mobile RetinaNet
on the embedded synthetic data, on CPU (2 cores: the README has the minutes
each phase took).

    spinenet-demo [--output_dir outputs/demo] [--train_steps N] \\
        [--seed S] [--precision auto|float32|bfloat16]

1. Generates the deterministic synthetic shapes dataset (COCO format, no
   download) under `<output_dir>/data`.
2. Trains RetinaNet with a SpineNet-Mobile-49XS backbone
   (`configs/retinanet_mobile_synthetic_demo.yaml`) with `train.py`'s
   engine, checkpointing as it goes (rerunning resumes).
3. Evaluates COCO AP on the validation split with pycocotools, draws the
   detections on validation images and the loss / AP curves.
4. Exports a SavedModel (batch norm folded) and an int8 TFLite file (its
   per-layer quantization report beside it; layers kept float if int8
   would lose more than 1 AP point; MediaPipe metadata with the
   `mediapipe` extra), checks both against the Keras model, and ends with
   a table of the figures, the minutes of each phase and the files. On a
   terminal training shows Keras' progress bar; into a file or a pipe, a
   plain line per 100 steps.
"""

import json
import os
import time

import tensorflow as tf
from absl import flags

from spinenet_tf.cli.errors import with_clear_errors
from spinenet_tf.cli.interruptions import training_stopped
from spinenet_tf.cli.program import run_program
from spinenet_tf.config import load_config
from spinenet_tf.data import synthetic
from spinenet_tf.export import export_saved_model
from spinenet_tf.export.saved_model_verification import verify_detection_saved_model
from spinenet_tf.export.tflite_export import export_and_verify_tflite
from spinenet_tf.quantization import inference_model
from spinenet_tf.training.trainer import Trainer
from spinenet_tf.utils.hardware import cpu_flags
from spinenet_tf.utils.native_logs import native_log_filter

OUTPUT_DIR = flags.DEFINE_string("output_dir", "outputs/demo", "Where results go.")
TRAIN_STEPS = flags.DEFINE_integer(
    "train_steps", None, "Training steps (default: the demo config's).")
NUM_TRAIN = flags.DEFINE_integer("num_train", 800, "Synthetic training images.")
NUM_VAL = flags.DEFINE_integer("num_val", 100, "Synthetic validation images.")
SEED = flags.DEFINE_integer("seed", None, "Training seed (default: the demo config's, 0).")
PRECISION = flags.DEFINE_enum(
    "precision", None, ["auto", "float32", "bfloat16"],
    "Training precision (default: the config's `auto`: bfloat16 on CPUs with AMX).")

# Shapes from 16 px (the generator's default is 12): at 12 px most
# validation boxes are COCO-"small", which a 128-px model trained for a
# few minutes finds least well (docs/training.md).
DEMO_MIN_SIDE = 16

DEMO_CONFIG = "retinanet_mobile_synthetic_demo"


def demo_config(data_dir, train_steps=None, seed=None, precision=None):
    """The demo experiment with its data paths pointed at `data_dir`."""
    overrides = []
    for key, split in (("train_data", "train"), ("eval_data", "val")):
        overrides += [f"{key}.annotations={os.path.join(data_dir, split, 'annotations.json')}",
                      f"{key}.image_dir={os.path.join(data_dir, split, 'images')}"]
    if seed is not None:
        overrides.append(f"trainer.seed={seed}")
    if precision:
        overrides.append("trainer.mixed_precision="
                         + ("null" if precision == "float32" else precision))
    if train_steps:
        config = load_config(DEMO_CONFIG, overrides)
        overrides.append(f"trainer.train_steps={train_steps}")
        every = config.trainer.checkpoint_every
        if train_steps % every:
            overrides.append(f"trainer.checkpoint_every={train_steps}")
        boundaries = [b for b in config.optimizer.boundaries if b < train_steps]
        overrides.append(f"optimizer.boundaries={boundaries}")
        overrides.append(
            f"optimizer.values={config.optimizer.values[:len(boundaries) + 1]}")
        overrides.append(f"trainer.eval_every={0 if train_steps % every else every * 5}")
    return load_config(DEMO_CONFIG, overrides)


@with_clear_errors(interrupted=lambda: training_stopped(
    os.path.join(os.path.abspath(OUTPUT_DIR.value), "run")))
def main(argv):
    del argv
    out_dir = os.path.abspath(OUTPUT_DIR.value)
    data_dir = os.path.join(out_dir, "data")
    run_dir = os.path.join(out_dir, "run")
    export_dir = os.path.join(out_dir, "export")
    started = time.time()
    config = demo_config(data_dir, TRAIN_STEPS.value, SEED.value, PRECISION.value)
    size = config.model.image_size[0]
    print(f"Generating {NUM_TRAIN.value} + {NUM_VAL.value} synthetic {size}x{size} "
          f"images in {data_dir} ...", flush=True)
    synthetic.generate(data_dir, NUM_TRAIN.value, NUM_VAL.value, image_size=size,
                       min_side=DEMO_MIN_SIDE)
    generated = time.time()
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    trainer = Trainer(config, run_dir, strategy)
    print(f"Training RetinaNet {config.model.backbone} at "
          f"{config.model.image_size[0]}x{config.model.image_size[1]} for "
          f"{config.trainer.train_steps} steps of {config.train_data.batch_size} images "
          f"(checkpoints every {config.trainer.checkpoint_every}; rerun to resume) ...",
          flush=True)
    results = trainer.run()
    trained = time.time()
    print(f"Training in {trainer.precision or 'float32'}"
          f"{' (trainer.mixed_precision: auto)' * (config.trainer.mixed_precision == 'auto')}"
          f": {(trained - started) / 60:.1f} min. Exporting to {export_dir} ...", flush=True)
    summary = export(trainer.model, trainer.task, export_dir)
    finished = time.time()
    phases = {"data": (generated - started) / 60, "training and evaluation":
              (trained - generated) / 60, "export and verification": (finished - trained) / 60}
    minutes = (finished - started) / 60
    print_final_table(results, summary, run_dir, export_dir, minutes, phases,
                      trainer.precision or "float32")
    with open(os.path.join(out_dir, "demo.json"), "w") as f:
        json.dump({"minutes": round(minutes, 2),
                   "phase_minutes": {k: round(v, 2) for k, v in phases.items()},
                   "precision": trainer.precision or "float32",
                   **{k: v for k, v in results.items() if not isinstance(v, list)},
                   "export": summary}, f, indent=2)


def print_final_table(results, summary, run_dir, export_dir, minutes, phases, precision):
    """The figures and the files, at the end of the demo's output."""
    model, _ = cpu_flags()
    rows = [
        ("Keras model (trained, " + precision + ")",
         f"{results['AP']:.3f}", f"{results['AP50']:.3f}", f"{results['AP75']:.3f}", "", ""),
        ("SavedModel (batch norm folded, float32)", f"{summary['saved_model_ap']:.3f}",
         "", "", f"{summary['saved_model_mib']:.1f} MiB", ""),
        ("TFLite int8 (uint8 input, LiteRT)", f"{summary['tflite_ap']:.3f}", "", "",
         f"{summary['tflite_mib']:.2f} MiB", f"{summary['latency_ms']:.1f} ms"),
    ]
    spent = ", ".join(f"{name} {value:.1f}" for name, value in phases.items())
    print(f"\nDone in {minutes:.1f} min ({spent}) "
          f"on {model}, {os.cpu_count()} cores. COCO box metrics on "
          f"{results.get('evaluated_images')} validation images:\n")
    header = ("", "AP", "AP50", "AP75", "size", "latency")
    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(6)]
    for row in [header] + rows:
        print("  " + row[0].ljust(widths[0]) + "".join(
            f"  {cell:>{width}}" for cell, width in zip(row[1:], widths[1:])))
    float_layers = len(summary.get("int8_float_layers", []))
    print(f"\n  int8 against the float32 TFLite file: "
          f"{100 * summary['quantization_ap_difference']:+.1f} AP points"
          f"{f' ({float_layers} layers kept float)' if float_layers else ''}; "
          f"SavedModel gives Keras' detections: "
          f"{'yes' if summary['saved_model_matches_keras'] else 'NO'}\n")
    files = [(run_dir, "metrics.json", "COCO metrics"),
             (run_dir, "detections.png", "detections on validation images"),
             (run_dir, "curves.png", "loss, learning rate and AP curves"),
             (run_dir, "model.keras", "the trained Keras model"),
             (run_dir, "checkpoints", "training checkpoints (rerun to resume)"),
             (run_dir, "logs", "TensorBoard logs"),
             (export_dir, "saved_model", "SavedModel for TF Serving"),
             (export_dir, os.path.basename(summary["tflite"]), "int8 TFLite file"),
             (export_dir, os.path.basename(summary["int8_report"]),
              "int8 error of every layer")]
    width = max(len(os.path.join(folder, name)) for folder, name, _ in files)
    for folder, name, what in files:
        print(f"  {os.path.join(folder, name):<{width}}  {what}")


def export(model, task, export_dir):
    """SavedModel (batch norm folded, float32) + int8 TFLite (uint8 input),
    both verified against the Keras model; a summary. C++ log lines of the
    converter and LiteRT go to `export_dir/native_log.txt`."""
    os.makedirs(export_dir, exist_ok=True)
    with native_log_filter(os.path.join(export_dir, "native_log.txt")):
        return _export(model, task, export_dir)


def _export(model, task, export_dir):
    saved_model = export_saved_model(inference_model(model),
                                     os.path.join(export_dir, "saved_model"))
    size = sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(saved_model) for name in names)
    print(f"SavedModel: {saved_model}, {size / 2**20:.1f} MiB")
    checks = verify_detection_saved_model(model, saved_model, "float32",
                                          task.evaluation_data(model))
    matched, compared = checks["top_detections_matched"]
    summary = export_and_verify_tflite(model, task, export_dir, "int8",
                                       uint8_input=True, verify=True,
                                       calibration_images=min(100, NUM_TRAIN.value))
    summary.update(saved_model=saved_model, saved_model_mib=size / 2**20,
                   saved_model_ap=checks["saved_model_ap"],
                   saved_model_matches_keras=matched == compared)
    return summary


def run():
    run_program(main, __name__)


if __name__ == "__main__":
    run()
