"""Train and evaluate a model of any family (RetinaNet, Mask R-CNN, the
classifier, ...) from an experiment config.

    python train.py --config configs/retinanet_mobile_synthetic_demo.yaml \\
        --model_dir runs/demo [--strategy one_device] \\
        [--set trainer.train_steps=200 --set train_data.batch_size=16]

Restarting the same command in the same `--model_dir` resumes from the
latest checkpoint. Strategies: one_device, mirrored (all GPUs, or
`--cpu_devices N` logical CPUs), multi_worker_mirrored (cluster from the
TF_CONFIG environment variable), tpu (`--tpu` address).
"""

import os

from absl import flags

from spinenet_tf.cli.errors import with_clear_errors
from spinenet_tf.cli.interruptions import training_stopped
from spinenet_tf.cli.program import run_program
from spinenet_tf.config import load_config
from spinenet_tf.training.strategy import get_strategy, split_cpu
from spinenet_tf.training.trainer import Trainer

CONFIG = flags.DEFINE_string("config", None, "Experiment YAML.", required=True)
MODEL_DIR = flags.DEFINE_string("model_dir", None, "Output / checkpoint folder.",
                                required=True)
STRATEGY = flags.DEFINE_enum(
    "strategy", "one_device",
    ["one_device", "mirrored", "multi_worker_mirrored", "tpu"], "tf.distribute strategy.")
TPU = flags.DEFINE_string("tpu", None, "TPU address for --strategy tpu ('local': attached).")
OVERRIDES = flags.DEFINE_multi_string(
    "set", [], "Config override `section.key=value` (value in YAML), repeatable, "
    "e.g. --set trainer.train_steps=100 --set model.image_size=[256,256].")
MIXED_PRECISION = flags.DEFINE_enum(
    "mixed_precision", None, ["auto", "bfloat16", "float16", "float32"],
    "Overrides trainer.mixed_precision (auto: bfloat16 on CPUs with AMX).")
DETERMINISTIC = flags.DEFINE_boolean(
    "deterministic", None, "Overrides trainer.deterministic (op determinism + seeds).")
STRICT = flags.DEFINE_boolean(
    "strict", None, "Fail at once on an unreadable image instead of skipping it.")
CPU_DEVICES = flags.DEFINE_integer(
    "cpu_devices", None, "Split the CPU into this many logical devices (for "
    "--strategy mirrored on a machine without GPUs).")
VERBOSE = flags.DEFINE_integer(
    "verbose", None, "Keras verbosity: 0, 1 (live bar) or 2 (a line an epoch); "
    "default: 1 on a terminal, 2 when the output goes to a file or a pipe.")


@with_clear_errors(interrupted=lambda: training_stopped(MODEL_DIR.value))
def main(argv):
    del argv
    if CPU_DEVICES.value:
        split_cpu(CPU_DEVICES.value)
    overrides = list(OVERRIDES.value)
    if MIXED_PRECISION.value:
        overrides.append("trainer.mixed_precision=" + (
            "null" if MIXED_PRECISION.value == "float32" else MIXED_PRECISION.value))
    if DETERMINISTIC.value is not None:
        overrides.append(f"trainer.deterministic={str(DETERMINISTIC.value).lower()}")
    if STRICT.value is not None:
        for split in ("train_data", "eval_data"):
            overrides.append(f"{split}.strict={str(STRICT.value).lower()}")
    config = load_config(CONFIG.value, overrides)
    strategy = get_strategy(STRATEGY.value, TPU.value)
    trainer = Trainer(config, MODEL_DIR.value, strategy, verbose=VERBOSE.value)
    results = trainer.run()
    print(f"results in {os.path.abspath(trainer.write_dir)}: metrics.json, curves.png, "
          f"model.keras, checkpoints/, logs/")
    print({k: v for k, v in results.items() if not isinstance(v, list)})


def run():
    run_program(main, __name__)


if __name__ == "__main__":
    run()
