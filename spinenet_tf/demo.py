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

from spinenet_tf.cli import with_clear_errors

OUTPUT_DIR = flags.DEFINE_string("output_dir", "outputs/demo", "Where results go.")
TRAIN_STEPS = flags.DEFINE_integer(
    "train_steps", None, "Training steps (default: the demo config's).")
NUM_TRAIN = flags.DEFINE_integer("num_train", 800, "Synthetic training images.")
NUM_VAL = flags.DEFINE_integer("num_val", 100, "Synthetic validation images.")

CONFIG_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                           "configs", "retinanet_mobile_synthetic_demo.yaml")


def demo_config(data_dir, train_steps=None):
    """The demo experiment with its data paths pointed at `data_dir`."""
    from spinenet_tf.config import load_config

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


@with_clear_errors
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
    trainer = Trainer(config, run_dir, strategy)
    results = trainer.run()
    print(f"\nCOCO box AP on {results.get('evaluated_images')} validation images: "
          f"AP {results['AP']:.3f}, AP50 {results['AP50']:.3f}, AP75 {results['AP75']:.3f}")

    export_dir = os.path.join(out_dir, "export")
    print(f"Exporting to {export_dir} ...")
    summary = export(trainer.model, trainer.task, export_dir)
    minutes = (time.time() - started) / 60
    print(f"\nDone in {minutes:.1f} min. Results in {run_dir}:")
    for name in ("metrics.json", "detections.png", "curves.png", "model.keras",
                 "checkpoints", "logs"):
        print(f"  {os.path.join(run_dir, name)}")
    print(f"Exports in {export_dir}: saved_model/ ({summary['saved_model_mib']:.1f} MiB), "
          f"{os.path.basename(summary['tflite'])} ({summary['tflite_mib']:.2f} MiB)")
    with open(os.path.join(out_dir, "demo.json"), "w") as f:
        json.dump({"minutes": round(minutes, 2), **{
            k: v for k, v in results.items() if not isinstance(v, list)},
            "export": summary}, f, indent=2)


def export(model, task, export_dir):
    """SavedModel (batch norm folded, float32) + int8 TFLite (uint8 input),
    both verified against the Keras model; a summary."""
    from spinenet_tf import inference_model
    from spinenet_tf.export import export_saved_model
    from spinenet_tf.export.tflite_cli import export_and_verify_tflite

    saved_model = export_saved_model(inference_model(model),
                                     os.path.join(export_dir, "saved_model"))
    size = sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(saved_model) for name in names)
    print(f"SavedModel: {saved_model}, {size / 2**20:.1f} MiB")
    checks = task.verify_saved_model(model, saved_model, "float32")
    matched, compared = checks["top_detections_matched"]
    summary = export_and_verify_tflite(model, task, export_dir, "int8",
                                       uint8_input=True, verify=True)
    summary.update(saved_model=saved_model, saved_model_mib=size / 2**20,
                   saved_model_ap=checks["saved_model_ap"],
                   saved_model_matches_keras=matched == compared)
    return summary


if __name__ == "__main__":
    app.run(main)
