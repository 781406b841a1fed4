"""The README's main command: train and evaluate a SpineNet-Mobile RetinaNet
on the embedded synthetic data, on CPU, in about ten minutes.

    python -m spinenet_tf.demo [--output_dir outputs/demo] [--train_steps N]

1. Generates the deterministic synthetic shapes dataset (COCO format, no
   download) under `<output_dir>/data`.
2. Trains RetinaNet with a SpineNet-Mobile-49XS backbone
   (`configs/retinanet_mobile_synthetic_demo.yaml`) with `train.py`'s
   engine, checkpointing as it goes (rerunning resumes).
3. Evaluates COCO AP on the validation split with pycocotools, draws the
   detections on validation images and the loss / AP curves, and prints
   where everything went.
"""

import json
import os
import time

from absl import app, flags

OUTPUT_DIR = flags.DEFINE_string("output_dir", "outputs/demo", "Where results go.")
TRAIN_STEPS = flags.DEFINE_integer(
    "train_steps", None, "Training steps (default: the demo config's).")
NUM_TRAIN = flags.DEFINE_integer("num_train", 800, "Synthetic training images.")
NUM_VAL = flags.DEFINE_integer("num_val", 100, "Synthetic validation images.")

CONFIG_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "configs", "retinanet_mobile_synthetic_demo.yaml")


def demo_config(data_dir, train_steps=None):
    """The demo experiment with its data paths pointed at `data_dir`."""
    from spinenet_tf.training.config import load_config

    if not os.path.exists(CONFIG_PATH):
        raise FileNotFoundError(
            f"The demo config {CONFIG_PATH} is missing; run the demo from a "
            "checkout (pip install -e .), where configs/ sits beside the package.")
    overrides = []
    for key, split in (("train_data", "train"), ("eval_data", "val")):
        overrides += [f"{key}.annotations={os.path.join(data_dir, split, 'annotations.json')}",
                      f"{key}.image_dir={os.path.join(data_dir, split, 'images')}"]
    if train_steps:
        config = load_config(CONFIG_PATH, overrides)
        overrides.append(f"trainer.train_steps={train_steps}")
        every = config.trainer.checkpoint_every
        if train_steps % every:
            overrides.append(f"trainer.checkpoint_every={train_steps}")
        boundaries = [b for b in config.optimizer.boundaries if b < train_steps]
        overrides.append(f"optimizer.boundaries={boundaries}")
        overrides.append(
            f"optimizer.values={config.optimizer.values[:len(boundaries) + 1]}")
        overrides.append(f"trainer.eval_every={0 if train_steps % every else every * 5}")
    return load_config(CONFIG_PATH, overrides)


def main(argv):
    del argv
    import tensorflow as tf

    from spinenet_tf.data import synthetic
    from spinenet_tf.training.trainer import Trainer

    out_dir = os.path.abspath(OUTPUT_DIR.value)
    data_dir = os.path.join(out_dir, "data")
    run_dir = os.path.join(out_dir, "run")
    started = time.time()
    config = demo_config(data_dir, TRAIN_STEPS.value)
    size = config.model.image_size[0]
    print(f"Generating {NUM_TRAIN.value} + {NUM_VAL.value} synthetic {size}x{size} "
          f"images in {data_dir} ...")
    synthetic.generate(data_dir, NUM_TRAIN.value, NUM_VAL.value, image_size=size)
    print(f"Training RetinaNet {config.model.backbone} at "
          f"{config.model.image_size[0]}x{config.model.image_size[1]} for "
          f"{config.trainer.train_steps} steps of {config.train_data.batch_size} images "
          f"(checkpoints every {config.trainer.checkpoint_every}; rerun to resume) ...")
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    results = Trainer(config, run_dir, strategy).run()
    minutes = (time.time() - started) / 60
    print(f"\nCOCO box AP on {results.get('evaluated_images')} validation images: "
          f"AP {results['AP']:.3f}, AP50 {results['AP50']:.3f}, AP75 {results['AP75']:.3f} "
          f"(total {minutes:.1f} min)")
    print(f"Results in {run_dir}:")
    for name in ("metrics.json", "detections.png", "curves.png", "model.keras",
                 "checkpoints", "logs"):
        print(f"  {os.path.join(run_dir, name)}")
    with open(os.path.join(out_dir, "demo.json"), "w") as f:
        json.dump({"minutes": round(minutes, 2), **{
            k: v for k, v in results.items() if not isinstance(v, list)}}, f, indent=2)


if __name__ == "__main__":
    app.run(main)
