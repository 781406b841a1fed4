"""Where a training step's time goes: TensorFlow profiler op statistics of
the Keras train step `fit` runs, grouped by op type.

    python benchmarks/profile_training.py [--model demo|49S|Mobile-49] \\
        [--train_precision float32|bfloat16] [--batch_norm fused|keras]

`demo` is the demo's RetinaNet SpineNet-Mobile-49XS @128, batch 16 (its
config); `49S` and `Mobile-49` are the recipes' RetinaNets @384, batch 8,
91 classes. The step runs without XLA on a fixed batch from the synthetic
shapes (targets encoded inside the step, as in `fit`). `--batch_norm keras`
swaps spinenet_tf's fused-kernel batch norm for Keras' own to show what the
fused kernel changes. Prints the CPU flags first (cpu_flags: AVX-512 BF16,
AMX), the wall time of a step, then the op types by self time and share.
Needs the `profile` extra (xprof).
"""

import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402
from latency_table import op_type_stats, print_op_table, quiet  # noqa: E402

from spinenet_tf.utils.hardware import hardware_line  # noqa: E402

MODEL = flags.DEFINE_enum("model", "demo", ["demo", "49S", "Mobile-49"], "Which model.")
PRECISION = flags.DEFINE_enum("train_precision", "float32", ["float32", "bfloat16"],
                              "float32, or the mixed_bfloat16 policy.")
BATCH_NORM = flags.DEFINE_enum("batch_norm", "fused", ["fused", "keras"],
                               "spinenet_tf's fused-kernel batch norm or Keras' own.")
RUNS = flags.DEFINE_integer("runs", 5, "Profiled steps.")
TOP = flags.DEFINE_integer("top", 15, "Op types to list.")


def experiment(model, data_dir):
    """The demo config, or a recipe's RetinaNet at 384 on the same data."""
    from spinenet_tf.cli.demo import demo_config

    config = demo_config(data_dir)
    if model != "demo":
        from spinenet_tf.models.retinanet import VARIANT_SETTINGS

        variant = {"49S": "spinenet-49s", "Mobile-49": "spinenet-mobile-49"}[model]
        recipe = VARIANT_SETTINGS[variant]
        config.model.backbone, config.model.image_size = variant, [384, 384]
        config.model.head_num_filters = recipe.head_num_filters
        config.model.anchor_size, config.model.num_classes = 3.0, 91
        config.train_data.batch_size = 8
    return config


def main(argv):
    del argv
    quiet()
    print(hardware_line())  # CPU model and cpu_flags (AVX-512 BF16, AMX)
    from spinenet_tf.data import synthetic
    from spinenet_tf.layers import BatchNormalization
    from spinenet_tf.models.base import task_for_config
    from spinenet_tf.training.trainer import build_compiled_model

    if BATCH_NORM.value == "keras":
        BatchNormalization._fusable = lambda self, *args: False
    data_dir = tempfile.mkdtemp()
    config = experiment(MODEL.value, data_dir)
    synthetic.generate(data_dir, 32, 0, image_size=config.model.image_size[0])
    keras.mixed_precision.set_global_policy(
        "mixed_bfloat16" if PRECISION.value == "bfloat16" else "float32")
    task = task_for_config(config)
    model, _ = build_compiled_model(config, task)
    model.jit_compile = False
    batch = next(iter(task.train_dataset(model)))
    iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
    model.make_train_function()

    def step():
        float(model.train_function(iterator)["loss"])

    for _ in range(3):
        step()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        for _ in range(RUNS.value):
            step()
        tf.profiler.experimental.stop()
        totals = op_type_stats(logdir)
    total = sum(t for t, _ in totals.values())
    print(f"\nRetinaNet {config.model.backbone} @{config.model.image_size[0]}, batch "
          f"{config.train_data.batch_size}, {PRECISION.value}, {BATCH_NORM.value} batch norm: "
          f"{1000 * statistics.median(times):.0f} ms a step (wall, median of 5), "
          f"{total / RUNS.value / 1000:.0f} ms of op self time (profiled)")
    print_op_table(totals, RUNS.value, TOP.value)


if __name__ == "__main__":
    app.run(main)
