"""Backbone inference latency: spinenet_tf vs tf-models-official, one run.

    python benchmarks/backbone_latency.py [--runs 30] [--json out.json]

For SpineNet-49 @640, SpineNet-49S @640 and SpineNet-Mobile-49 @384 it
builds our backbone and its Model Garden twin (same weights, copied with
`spinenet_tf.convert`), wraps both in `tf.function`, warms them up, then
times batch-1 fp32 inference alternately (ours, theirs, ours, ...) so drift
of the machine hits both equally, and prints medians and ours/reference.
Needs the `garden` extra.
"""

import json
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from spinenet_tf import SpineNet, SpineNetMobile, convert  # noqa: E402

RUNS = flags.DEFINE_integer("runs", 30, "Timed runs per model.")
WARMUP = flags.DEFINE_integer("warmup", 5, "Untimed runs per model.")
JSON_OUT = flags.DEFINE_string("json", None, "Also write the results here.")
JIT = flags.DEFINE_boolean(
    "jit_compile", False, "Compile both models with XLA (same fusion for both).")

CASES = [
    ("SpineNet-49", SpineNet, "49", 640),
    ("SpineNet-49S", SpineNet, "49S", 640),
    ("SpineNet-Mobile-49", SpineNetMobile, "49", 384),
]


def _time_once(function, inputs):
    start = time.perf_counter()
    outputs = function(inputs)
    for value in outputs.values():
        value.numpy()  # wait for the result
    return time.perf_counter() - start


def benchmark(builder, model_id, size, runs, warmup, jit_compile=False):
    ours = builder(model_id, input_shape=(size, size, 3))
    reference = convert.build_model_garden_backbone(ours)
    convert.transfer_model_garden_weights(reference, ours)
    inputs = tf.constant(
        np.random.default_rng(0).normal(size=(1, size, size, 3)).astype("float32"))
    ours_fn = tf.function(lambda x: ours(x, training=False), jit_compile=jit_compile)
    reference_fn = tf.function(
        lambda x: reference(x, training=False), jit_compile=jit_compile)
    difference = max(
        float(np.max(np.abs(ours_fn(inputs)[f"P{l}"] - reference_fn(inputs)[str(l)])))
        for l in range(3, 8))
    for _ in range(warmup):
        _time_once(ours_fn, inputs)
        _time_once(reference_fn, inputs)
    ours_times, reference_times = [], []
    for _ in range(runs):
        ours_times.append(_time_once(ours_fn, inputs))
        reference_times.append(_time_once(reference_fn, inputs))
    ours_ms = statistics.median(ours_times) * 1000
    reference_ms = statistics.median(reference_times) * 1000
    return {
        "ours_ms": ours_ms,
        "reference_ms": reference_ms,
        "ratio": ours_ms / reference_ms,
        "max_abs_output_difference": difference,
    }


def main(argv):
    del argv
    from spinenet_tf.hardware import hardware_line

    print(hardware_line(), flush=True)  # CPU model, cores, cpu_flags (AVX-512, AMX)
    machine = (f"{platform.processor() or platform.machine()}, "
               f"{os.cpu_count()} logical CPUs, TensorFlow {tf.__version__}")
    mode = "XLA" if JIT.value else "tf.function graph"
    print(f"batch 1, fp32, {mode}, median of {RUNS.value} runs; {machine}")
    print(f"{'model':<22}{'input':>6}{'ours ms':>10}{'TFM ms':>10}{'ours/TFM':>10}")
    results = {"machine": machine, "runs": RUNS.value, "mode": mode, "cases": {}}
    for name, builder, model_id, size in CASES:
        r = benchmark(builder, model_id, size, RUNS.value, WARMUP.value, JIT.value)
        results["cases"][name] = dict(r, image_size=size)
        print(f"{name:<22}{size:>6}{r['ours_ms']:>10.1f}{r['reference_ms']:>10.1f}"
              f"{r['ratio']:>10.3f}")
    if JSON_OUT.value:
        with open(JSON_OUT.value, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    app.run(main)
