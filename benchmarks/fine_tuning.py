"""Does starting from a trained model pay off on a new task? Fine-tuning
onto other classes against training from scratch, at an equal small budget.

    python benchmarks/fine_tuning.py [--seeds 3] [--steps 200] [--train_images 200]
        [--output_dir outputs/fine_tuning] [--json out.json]

Task A is the embedded synthetic shapes (circle, square, triangle; 800
training images at 128 px): a RetinaNet SpineNet-Mobile-49XS is trained on
it once with the demo's recipe (`configs/retinanet_mobile_synthetic_demo.yaml`,
600 steps). Task B has disjoint classes (ring, cross, diamond:
`spinenet-make-shapes --shape_set other`) and few images
(`--train_images`, 100 for validation). On task B, each start trains
`--steps` steps of the demo's Adam schedule, three seeds each:

* scratch: fresh weights;
* all: every weight from task A's run (`model.init_parts: all`; both tasks
  have 3 classes, so the class layer is task A's too, its classes now
  meaning other shapes);
* backbone: task A's backbone, a fresh head (`init_parts: backbone`);
* frozen backbone: as backbone, the backbone frozen (`model.freeze`).

Prints the CPU flags, COCO AP / AP50 per run, the means per start and
their ratios to scratch. Finished runs are read back, so an interrupted
benchmark resumes.
"""

import json
import os
import statistics
import sys

import tensorflow as tf
from absl import app, flags

from spinenet_tf.config import load_config
from spinenet_tf.data import synthetic
from spinenet_tf.training.trainer import Trainer
from spinenet_tf.utils.hardware import hardware_line

SEEDS = flags.DEFINE_integer("seeds", 3, "Seeds per start.")
STEPS = flags.DEFINE_integer("steps", 200, "Fine-tuning (and scratch) steps on task B.")
TRAIN_IMAGES = flags.DEFINE_integer("train_images", 200, "Task B's training images.")
OUTPUT_DIR = flags.DEFINE_string("output_dir", "outputs/fine_tuning", "Data and runs.")
JSON = flags.DEFINE_string("json", None, "Also write the results here.")

CONFIG = "retinanet_mobile_synthetic_demo"
STARTS = {
    "scratch": [],
    "all": ["model.init_parts=all"],
    "backbone": ["model.init_parts=backbone"],
    "frozen backbone": ["model.init_parts=backbone", "model.freeze=[backbone]"],
}


def data_overrides(data_dir):
    return [f"{key}.{field}={os.path.join(data_dir, split, name)}"
            for key, split in (("train_data", "train"), ("eval_data", "val"))
            for field, name in (("annotations", "annotations.json"), ("image_dir", "images"))]


def train(folder, overrides):
    """Trains (or reads back) one run; returns its metrics."""
    metrics_path = os.path.join(folder, "metrics.json")
    if not os.path.exists(metrics_path):
        config = load_config(CONFIG, overrides)
        Trainer(config, folder, tf.distribute.OneDeviceStrategy("/cpu:0"), verbose=2).run()
    with open(metrics_path) as f:
        return json.load(f)


def schedule(steps):
    """The demo's Adam schedule shrunk to `steps` (decays at 75 % and 90 %)."""
    every = next(k for k in range(min(100, steps), 0, -1) if steps % k == 0)
    return [f"trainer.train_steps={steps}", f"trainer.checkpoint_every={every}",
            "trainer.eval_every=0", f"optimizer.boundaries=[{int(0.75 * steps)}, "
            f"{int(0.9 * steps)}]", f"optimizer.warmup_steps={max(steps // 7, 1)}"]


def main(argv):
    del argv
    print(hardware_line(), flush=True)  # the CPU model and its cpu_flags (AVX-512, AMX)
    root = os.path.abspath(OUTPUT_DIR.value)
    task_a, task_b = os.path.join(root, "data_a"), os.path.join(root, f"data_b_{TRAIN_IMAGES.value}")
    if not os.path.exists(os.path.join(task_a, "val", "annotations.json")):
        synthetic.generate(task_a, 800, 100, image_size=128, min_side=16)
    if not os.path.exists(os.path.join(task_b, "val", "annotations.json")):
        synthetic.generate(task_b, TRAIN_IMAGES.value, 100, image_size=128, min_side=16,
                           seed=1, shape_set="other")
    pretrained = os.path.join(root, "task_a")
    metrics = train(pretrained, data_overrides(task_a))
    print(f"task A (basic shapes, 600 steps): AP {metrics['AP']:.3f}", flush=True)
    results = {}
    for start, extra in STARTS.items():
        for seed in range(SEEDS.value):
            folder = os.path.join(root, f"task_b_{TRAIN_IMAGES.value}_{STEPS.value}",
                                  start.replace(" ", "_"), f"seed{seed}")
            overrides = data_overrides(task_b) + schedule(STEPS.value) + [
                f"trainer.seed={seed}"] + extra
            if start != "scratch":
                overrides.append(f"model.init_from={pretrained}")
            metrics = train(folder, overrides)
            results[(start, seed)] = metrics
            print(f"{start}, seed {seed}: AP {metrics['AP']:.3f}, AP50 {metrics['AP50']:.3f}",
                  flush=True)
    means = {start: {m: statistics.mean(results[(start, s)][m] for s in range(SEEDS.value))
                     for m in ("AP", "AP50")} for start in STARTS}
    print(f"\n{'start':<18}{'AP':>8}{'AP50':>8}{'AP / scratch':>14}")
    for start, values in means.items():
        print(f"{start:<18}{values['AP']:>8.3f}{values['AP50']:>8.3f}"
              f"{values['AP'] / max(means['scratch']['AP'], 1e-9):>14.2f}")
    if JSON.value:
        with open(JSON.value, "w") as f:
            json.dump({"hardware": hardware_line(), "means": means,
                       "runs": {f"{k[0]}/{k[1]}": v for k, v in results.items()}}, f, indent=2)


if __name__ == "__main__":
    sys.exit(app.run(main))
