"""Does the cascade pay off? Cascade R-CNN against Mask R-CNN on the same
data, backbone, heads and training budget, several seeds each.

    python benchmarks/cascade_vs_maskrcnn.py [--seeds 3] [--first_seed 0]
        [--steps N] [--output_dir outputs/cascade_vs_maskrcnn] [--json out.json]

Both train with the project's trainer on the embedded synthetic shapes at
128 px (800 training, 100 validation images, `spinenet-make-shapes`
defaults), from `configs/maskrcnn_mobile_synthetic.yaml` and
`configs/cascade_rcnn_mobile_synthetic.yaml`: SpineNet-Mobile-49XS, the
same RPN, box and mask heads, proposals, ROI draws, optimizer and steps;
the cascade adds two box stages trained at IoU 0.6 and 0.7 and scores by
the stages' mean class logits. Each is scored by COCO box AP (0.5:0.95),
AP50 and AP75, and mask AP, on the validation images (pycocotools).

Prints the CPU flags, each run's figures and minutes, the means per model
and the ratios cascade / Mask R-CNN. A run whose folder holds its
metrics.json is read back instead of trained again, so an interrupted
benchmark resumes. About 10-15 minutes a run on 2 CPU cores.
"""

import json
import os
import statistics
import sys
import time

import tensorflow as tf
from absl import app, flags

from spinenet_tf.config import load_config
from spinenet_tf.data import synthetic
from spinenet_tf.training.trainer import Trainer
from spinenet_tf.utils.hardware import hardware_line

SEEDS = flags.DEFINE_integer("seeds", 3, "Seeds per model.")
FIRST_SEED = flags.DEFINE_integer("first_seed", 0, "The first seed.")
STEPS = flags.DEFINE_integer("steps", None, "Training steps (default: the configs' 1500).")
OUTPUT_DIR = flags.DEFINE_string("output_dir", "outputs/cascade_vs_maskrcnn",
                                 "Data and runs.")
JSON = flags.DEFINE_string("json", None, "Also write the results here.")

CONFIGS = {"Mask R-CNN": "maskrcnn_mobile_synthetic",
           "Cascade R-CNN": "cascade_rcnn_mobile_synthetic"}
METRICS = ("AP", "AP50", "AP75", "mask_AP")


def run_config(name, data_dir, folder, seed, steps):
    """One training run's metrics and minutes (read back if done)."""
    results_path = os.path.join(folder, "metrics.json")
    if os.path.exists(results_path):
        with open(results_path) as f:
            results = json.load(f)
        return results, results.get("benchmark_minutes")
    overrides = [f"trainer.seed={seed}"]
    for key, split in (("train_data", "train"), ("eval_data", "val")):
        overrides += [f"{key}.annotations={os.path.join(data_dir, split, 'annotations.json')}",
                      f"{key}.image_dir={os.path.join(data_dir, split, 'images')}"]
    if steps:
        overrides += [f"trainer.train_steps={steps}", f"trainer.checkpoint_every={steps}",
                      "optimizer.boundaries=[]", "optimizer.values=[0.004]"]
    config = load_config(CONFIGS[name], overrides)
    started = time.time()
    results = Trainer(config, folder, tf.distribute.OneDeviceStrategy("/cpu:0"),
                      verbose=2).run()
    minutes = (time.time() - started) / 60
    results["benchmark_minutes"] = minutes
    with open(results_path, "w") as f:
        json.dump(results, f, indent=2)
    return results, minutes


def summary_lines(runs):
    """The table: each run, then the means per model and the ratios."""
    lines = [f"{'model':<15}{'seed':>5}" + "".join(f"{m:>9}" for m in METRICS) + f"{'min':>7}"]
    for (name, seed), (results, minutes) in sorted(runs.items()):
        lines.append(f"{name:<15}{seed:>5}" + "".join(f"{results[m]:>9.3f}" for m in METRICS)
                     + (f"{minutes:>7.1f}" if minutes else f"{'-':>7}"))
    means = {name: {m: statistics.mean(r[m] for (n, _), (r, _) in runs.items() if n == name)
                    for m in METRICS} for name in CONFIGS if any(n == name for n, _ in runs)}
    for name, values in means.items():
        lines.append(f"{name + ' mean':<20}" + "".join(f"{values[m]:>9.3f}" for m in METRICS))
    if len(means) == 2:
        lines.append(f"{'ratio cascade/mask':<20}" + "".join(
            f"{means['Cascade R-CNN'][m] / max(means['Mask R-CNN'][m], 1e-9):>9.3f}"
            for m in METRICS))
    return lines, means


def main(argv):
    del argv
    print(hardware_line(), flush=True)  # the CPU model and its cpu_flags (AVX-512, AMX)
    root = os.path.abspath(OUTPUT_DIR.value)
    data_dir = os.path.join(root, "data")
    if not os.path.exists(os.path.join(data_dir, "val", "annotations.json")):
        synthetic.generate(data_dir, 800, 100, image_size=128)
    runs = {}
    for seed in range(FIRST_SEED.value, FIRST_SEED.value + SEEDS.value):
        for name in CONFIGS:
            folder = os.path.join(root, f"{CONFIGS[name]}_steps{STEPS.value or 'config'}",
                                  f"seed{seed}")
            print(f"{name}, seed {seed}: {folder}", flush=True)
            runs[(name, seed)] = run_config(name, data_dir, folder, seed, STEPS.value)
            print("  " + ", ".join(f"{m} {runs[(name, seed)][0][m]:.3f}" for m in METRICS),
                  flush=True)
    lines, means = summary_lines(runs)
    print("\n".join(lines))
    if JSON.value:
        with open(JSON.value, "w") as f:
            json.dump({"hardware": hardware_line(), "means": means,
                       "runs": {f"{n}/{s}": r for (n, s), (r, _) in runs.items()}}, f, indent=2)


if __name__ == "__main__":
    sys.exit(app.run(main))
