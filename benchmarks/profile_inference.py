"""Where inference time goes: TensorFlow profiler op statistics of one
SpineNet form, grouped by op type.

    python benchmarks/profile_inference.py [--model 49S] [--precision bfloat16] [--size 640]

Traces `--runs` batch-1 calls of `spinenet_tf.inference_model(backbone,
precision)` (or the model as built, `--precision as_built`) in a
`tf.function` with the TensorFlow profiler and prints the op types by
self time and their share of the total. Needs the `profile` extra (xprof) to read the trace.
"""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402
from latency_table import op_type_stats, print_op_table, quiet  # noqa: E402

from spinenet_tf import SpineNet, SpineNetMobile, inference_model  # noqa: E402
from spinenet_tf.utils.batch_norm_statistics import randomize_batch_norm  # noqa: E402
from spinenet_tf.utils.hardware import hardware_line  # noqa: E402

MODEL = flags.DEFINE_string("model", "49S", "49S, 49, ... or Mobile-49, Mobile-49S, ...")
PRECISION = flags.DEFINE_enum("precision", "bfloat16", ["as_built", "float32", "bfloat16"],
                              "Which form to profile.")
SIZE = flags.DEFINE_integer("size", 640, "Input size.")
RUNS = flags.DEFINE_integer("runs", 5, "Profiled calls.")
TOP = flags.DEFINE_integer("top", 12, "Op types to list.")


def main(argv):
    del argv
    quiet()
    print(hardware_line())  # CPU model and cpu_flags (AVX-512 BF16, AMX)
    mobile = MODEL.value.startswith("Mobile-")
    builder = SpineNetMobile if mobile else SpineNet
    model = builder(MODEL.value.replace("Mobile-", ""), input_shape=(SIZE.value, SIZE.value, 3))
    randomize_batch_norm(model)
    if PRECISION.value != "as_built":
        model = inference_model(model, PRECISION.value)
    function = tf.function(lambda x: model(x, training=False))
    x = tf.constant(np.random.default_rng(0).normal(
        size=(1, SIZE.value, SIZE.value, 3)).astype("float32"))
    for _ in range(3):
        tf.nest.map_structure(lambda v: v.numpy(), function(x))
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        for _ in range(RUNS.value):
            tf.nest.map_structure(lambda v: v.numpy(), function(x))
        tf.profiler.experimental.stop()
        totals = op_type_stats(logdir)
    total = sum(t for t, _ in totals.values())
    print(f"\n{builder.__name__}-{MODEL.value.replace('Mobile-', '')} @{SIZE.value}, "
          f"{PRECISION.value}, batch 1: {total / RUNS.value / 1000:.1f} ms of op self time "
          f"a call (profiled, {RUNS.value} calls)")
    print_op_table(totals, RUNS.value, TOP.value, "a call")



if __name__ == "__main__":
    app.run(main)
