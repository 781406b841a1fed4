"""Backbone inference latency: spinenet_tf's forms vs tf-models-official's.

    python benchmarks/backbone_latency.py [--runs 15] [--batch_sizes 1,8] [--json out.json]

For SpineNet-49 @640, SpineNet-49S @640 and SpineNet-Mobile-49 @384, one
process, same weights everywhere (copied with `backbones.model_garden_twin`, batch
norm statistics randomised so that folding has something to fold), each
row a `tf.function`, timed in turn (one of each, again, ...), medians:

* ours float32 as built (Keras' batch norm after each conv);
* ours folded float32 and folded bfloat16 (`spinenet_tf.inference_model`);
* tf-models-official float32, and with tf_keras' `mixed_bfloat16` policy.

Every row prints its time, its ratio to tf-models-official float32, the
GFLOP/s it achieves (2 x multiply-adds of `spinenet_tf.utils.model_complexity`)
and that as a share of this machine's measured bfloat16 3x3-conv peak. The
header gives the CPU flags and the measured fp32 and bf16 conv throughput.
Needs the `garden` extra.
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402
from latency_table import interleaved_medians, model_garden_twins, print_hardware, print_rows, quiet  # noqa: E402

from spinenet_tf import SpineNet, SpineNetMobile, convert, inference_model  # noqa: E402
from spinenet_tf.utils.model_complexity import count_macs  # noqa: E402

RUNS = flags.DEFINE_integer("runs", 15, "Timed runs per row.")
WARMUP = flags.DEFINE_integer("warmup", 3, "Untimed runs per row.")
BATCH_SIZES = flags.DEFINE_list("batch_sizes", ["1", "8"], "Batch sizes to time.")
MODELS = flags.DEFINE_list("models", ["49", "49S", "Mobile-49"], "Which cases.")
JSON_OUT = flags.DEFINE_string("json", None, "Also write the results here.")
JIT = flags.DEFINE_boolean("jit_compile", False, "Compile every tf.function with XLA.")

CASES = {"49": ("SpineNet-49", SpineNet, "49", 640),
         "49S": ("SpineNet-49S", SpineNet, "49S", 640),
         "Mobile-49": ("SpineNet-Mobile-49", SpineNetMobile, "49", 384)}
REFERENCE = "TFM float32"


def forms(builder, model_id, size):
    """{row: (model, output-to-dict function)} of every form of one backbone."""
    ours = builder(model_id, input_shape=(size, size, 3))
    twins = model_garden_twins(ours, convert.build_model_garden_backbone,
                               convert.transfer_model_garden_weights)
    reference_keys = lambda out: {f"P{l}": out[str(l)] for l in range(3, 8)}  # noqa: E731
    return ours, {
        "ours float32 as built": (ours, dict),
        "ours folded float32": (inference_model(ours), dict),
        "ours folded bfloat16": (inference_model(ours, "bfloat16"), dict),
        REFERENCE: (twins["float32"], reference_keys),
        "TFM mixed_bfloat16": (twins["mixed_bfloat16"], reference_keys),
    }


def benchmark(name, builder, model_id, size, peak):
    ours, models = forms(builder, model_id, size)
    macs = count_macs(ours)
    functions = {
        row: tf.function(lambda x, m=model, k=keys: k(m(x, training=False)),
                         jit_compile=JIT.value)
        for row, (model, keys) in models.items()}
    results = {}
    for batch in (int(b) for b in BATCH_SIZES.value):
        x = tf.constant(np.random.default_rng(0).normal(
            size=(batch, size, size, 3)).astype("float32"))
        rows = dict(functions)
        expected = rows["ours float32 as built"](x)
        differences = {}
        for row, function in rows.items():
            out = function(x)
            differences[row] = max(
                float(np.max(np.abs(np.asarray(out[k], "float32") - expected[k]))
                      / np.max(np.abs(expected[k]))) for k in expected)
        seconds = interleaved_medians(rows, x, RUNS.value, WARMUP.value)
        table = print_rows(f"{name} @{size}", seconds, REFERENCE, macs, batch, peak)
        for row in table:
            table[row]["max_relative_difference"] = differences[row]
        print("  max relative output difference to ours float32: " + ", ".join(
            f"{row} {d:.0e}" for row, d in differences.items()))
        results[f"batch {batch}"] = table
    return results


def main(argv):
    del argv
    quiet()
    hardware = print_hardware()  # CPU model, cpu_flags (AVX-512 BF16, AMX), conv peaks
    mode = "XLA" if JIT.value else "tf.function graph"
    print(f"{mode}, medians of {RUNS.value} interleaved runs")
    results = {"hardware": hardware, "runs": RUNS.value, "mode": mode, "cases": {}}
    for key in MODELS.value:
        name, builder, model_id, size = CASES[key]
        results["cases"][name] = benchmark(name, builder, model_id, size,
                                           hardware["conv_gflops"]["bfloat16"])
    if JSON_OUT.value:
        with open(JSON_OUT.value, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    app.run(main)
