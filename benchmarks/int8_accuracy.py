"""What int8 costs in COCO AP, three ways, on trained detectors.

    python benchmarks/int8_accuracy.py --runs outputs/demo/run[,other/run] \\
        [--qat_steps 100 --qat_learning_rate 6e-5] [--json out.json]

For each `train.py` folder (its config names its data), against the same
model's fp32 `.tflite` (same post-processing, fast NMS) on its evaluation
data:

1. post-training int8 with every layer int8 (calibrated on 100 training
   images, uint8 input), and its per-layer report's worst layers;
2. selective float: the worst layers by the report kept float until the
   cost is within --budget (default 1 point);
3. quantization-aware fine-tuning (`model.quantization_aware`, --qat_steps
   of Adam at --qat_learning_rate from the run), then int8 with the learned
   ranges; also the fine-tuned Keras model's AP (fake-quantized, in float)
   beside the float model's.

Prints the CPU it ran on; writes the table as JSON with --json.
"""

import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

RUNS = flags.DEFINE_list("runs", None, "train.py folders of trained detectors.",
                         required=True)
BUDGET = flags.DEFINE_float("budget", 1.0, "AP points selective float may lose.")
QAT_STEPS = flags.DEFINE_integer("qat_steps", 100, "Quantization-aware steps (0: skip).")
QAT_LEARNING_RATE = flags.DEFINE_float("qat_learning_rate", 6e-5, "Its Adam rate.")
CALIBRATION_IMAGES = flags.DEFINE_integer("calibration_images", 100, "int8 calibration.")
JSON_OUT = flags.DEFINE_string("json", None, "Also write the results here.")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def keras_ap(model, task):
    from spinenet_tf.evaluation import keras_detect

    return task.evaluation_data(model).evaluate(keras_detect(model), progress=False)["AP"]


def fine_tune(run_dir, steps, learning_rate):
    """train.py on the run's config, quantization-aware, from the run."""
    qat_dir = run_dir.rstrip("/") + f"_qat{steps}"
    command = [sys.executable, os.path.join(ROOT, "train.py"),
               "--config", os.path.join(run_dir, "config.yaml"), "--model_dir", qat_dir,
               "--verbose", "0",
               "--set", "model.quantization_aware=true",
               "--set", "trainer.mixed_precision=null",  # QAT trains in float32
               "--set", f"model.init_from={run_dir}",
               "--set", f"trainer.train_steps={steps}",
               "--set", f"trainer.checkpoint_every={steps}",
               "--set", "trainer.eval_every=0",
               "--set", "optimizer.boundaries=[]",
               "--set", f"optimizer.values=[{learning_rate}]",
               "--set", "optimizer.warmup_steps=0"]
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    return qat_dir, time.perf_counter() - start


def measure(run_dir):
    from spinenet_tf.config import load_config
    from spinenet_tf.export.tflite import int8_quantizer
    from spinenet_tf.export.tflite_export import calibration_images
    from spinenet_tf.models.base import task_for_config
    from spinenet_tf.quantization.int8_quantizer import quantize_within_budget
    from spinenet_tf.training.checkpoints import load_model_dir

    task = task_for_config(load_config(os.path.join(run_dir, "config.yaml")))
    model, _ = load_model_dir(run_dir)
    from spinenet_tf.quantization.inference_form import compute_dtype_of

    if compute_dtype_of(model) != "float32":
        from spinenet_tf import inference_model

        model = inference_model(model, "float32")
    images = calibration_images(task.calibration_folder(), CALIBRATION_IMAGES.value,
                                model.preprocessor)
    quantizer = int8_quantizer(model, images, uint8_input=True)
    cost = task.int8_ap_cost(model)
    row = {"run": run_dir, "keras_ap": keras_ap(model, task), "fp32_tflite_ap": cost.fp32_ap,
           "worst_layers": [(r["op"], r["layer"], round(r["rmse_per_scale"], 2))
                            for r in quantizer.report[:5]]}
    row["ptq_cost"] = cost(quantizer.quantize())
    _, layers, measured, met = quantize_within_budget(quantizer, cost, BUDGET.value,
                                                      log=lambda line: None)
    row.update(selective_cost=measured, selective_float_layers=len(layers),
               selective_met=met)
    print(f"{run_dir}: fp32 TFLite AP {cost.fp32_ap:.3f}; int8 cost {row['ptq_cost']:+.2f} "
          f"points; selective float {measured:+.2f} with {len(layers)} float layers",
          flush=True)
    if QAT_STEPS.value:
        qat_dir, seconds = fine_tune(run_dir, QAT_STEPS.value, QAT_LEARNING_RATE.value)
        qat, _ = load_model_dir(qat_dir)
        qat_int8 = int8_quantizer(qat, images, uint8_input=True).quantize()
        # Against the float model's fp32 file: what the phone model loses.
        row.update(qat_cost=cost(qat_int8), qat_keras_ap=keras_ap(qat, task),
                   qat_seconds=seconds)
        print(f"  QAT {QAT_STEPS.value} steps ({seconds:.0f} s): int8 cost "
              f"{row['qat_cost']:+.2f} points against the float model's fp32 file; "
              f"Keras AP {row['keras_ap']:.3f} -> {row['qat_keras_ap']:.3f} "
              "(fake-quantized)", flush=True)
    return row


def main(argv):
    del argv
    from spinenet_tf.utils.hardware import cpu_flags, hardware_line

    print(hardware_line())
    model_name, cpu = cpu_flags()
    rows = [measure(run) for run in RUNS.value]
    print("\n| run | Keras AP | fp32 TFLite AP | int8 (all layers) | selective float "
          "(layers) | QAT int8 | QAT Keras AP |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['run']} | {r['keras_ap']:.3f} | {r['fp32_tflite_ap']:.3f} | "
              f"{r['ptq_cost']:+.2f} | {r['selective_cost']:+.2f} "
              f"({r['selective_float_layers']}) | {r.get('qat_cost', float('nan')):+.2f} | "
              f"{r.get('qat_keras_ap', float('nan')):.3f} |")
    if JSON_OUT.value:
        with open(JSON_OUT.value, "w") as f:
            json.dump({"cpu": model_name, "cpu_flags": cpu, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    app.run(main)
