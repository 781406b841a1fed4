"""What the latency benchmarks share: the hardware header, interleaved
timing, and the table of rows with ratios and achieved GFLOP/s."""

import os
import statistics
import time

import tensorflow as tf

from spinenet_tf.utils.batch_norm_statistics import randomize_batch_norm
from spinenet_tf.utils.hardware import conv_gflops, cpu_flags, hardware_line

POLICIES = ("float32", "mixed_bfloat16")
REFERENCE = "TFM float32"


def timed_forms(ours, references, image_side, keys):
    """{row: tf.function of normalised images}: ours as built, folded
    float32 and folded bfloat16 (`serving_outputs`), and the Model Garden
    twins of `model_garden_twins` (`REFERENCE`, "TFM mixed_bfloat16")
    called with an image shape of `image_side` per image, their `keys`
    outputs kept."""
    from spinenet_tf import inference_model

    models = {"ours float32 as built": ours,
              "ours folded float32": inference_model(ours),
              "ours folded bfloat16": inference_model(ours, "bfloat16")}
    functions = {row: tf.function(lambda x, m=model: m.serving_outputs(x))
                 for row, model in models.items()}
    for policy, reference in references.items():
        functions[REFERENCE if policy == "float32" else "TFM mixed_bfloat16"] = tf.function(
            lambda x, r=reference: {k: v for k, v in r(
                x, image_shape=tf.fill([tf.shape(x)[0], 2], image_side),
                training=False).items() if k in keys})
    return functions, models


def model_garden_twins(ours, build, transfer, prepare=None):
    """{policy: tf-models-official twin of `ours`} for float32 and tf_keras'
    mixed_bfloat16, made by `build(ours)`; all three models end with the
    float32 twin's weights, its batch norms randomised (so that folding has
    statistics to fold) and then changed by `prepare(twin)` if given;
    `transfer(twin, ours)` copies them into ours."""
    import tf_keras

    twins = {}
    for policy in POLICIES:
        tf_keras.mixed_precision.set_global_policy(policy)
        try:
            twins[policy] = build(ours)
        finally:
            tf_keras.mixed_precision.set_global_policy("float32")
    randomize_batch_norm(twins["float32"])
    if prepare is not None:
        prepare(twins["float32"])
    twins["mixed_bfloat16"].set_weights(twins["float32"].get_weights())
    transfer(twins["float32"], ours)
    return twins


def quiet():
    """No TensorFlow Python info lines or retracing warnings (each row is
    its own tf.function of one lambda, which TensorFlow counts as
    retracing)."""
    from absl import logging

    logging.set_verbosity(logging.ERROR)
    tf.get_logger().setLevel("ERROR")


def print_hardware():
    """Prints (and returns) the CPU model and flags (cpuinfo: AVX-512 BF16,
    AMX) and this machine's measured fp32 / bf16 3x3-conv throughput, so a
    figure is never read without the hardware it came from."""
    _, flags = cpu_flags()
    peaks = {dtype: conv_gflops(dtype) for dtype in ("float32", "bfloat16")}
    print(hardware_line())
    units = ("AMX" if "amx_bf16" in flags else "AVX-512 BF16" if "avx512_bf16" in flags
             else "no bfloat16 units: bfloat16 is emulated and slow")
    print(f"measured 3x3 conv (1x160x160x256 -> 256): float32 {peaks['float32']:.0f} "
          f"GFLOP/s, bfloat16 {peaks['bfloat16']:.0f} GFLOP/s "
          f"({peaks['bfloat16'] / peaks['float32']:.1f}x; {units})", flush=True)
    return {"cpu_flags": list(flags), "conv_gflops": peaks}


def _wait(outputs):
    tf.nest.map_structure(lambda value: value.numpy(), outputs)


def interleaved_medians(functions, inputs, runs, warmup):
    """{name: median seconds} of `functions[name](inputs)`, timed in turn
    (one of each, then again) so drift of the machine hits all alike."""
    for _ in range(warmup):
        for function in functions.values():
            _wait(function(inputs))
    times = {name: [] for name in functions}
    for _ in range(runs):
        for name, function in functions.items():
            start = time.perf_counter()
            _wait(function(inputs))
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def print_rows(title, seconds, reference, macs_per_image, batch, peak_gflops):
    """One table: per row ms, ratio to `reference`'s row, achieved GFLOP/s
    (2 x MACs) and its share of the measured bf16 conv peak."""
    print(f"\n{title}, batch {batch} ({2 * macs_per_image / 1e9:.2f} GFLOP an image)")
    print(f"  {'':<34}{'ms':>9}{'x ' + reference:>22}{'GFLOP/s':>10}{'of bf16 peak':>14}")
    rows = {}
    for name, value in seconds.items():
        gflops = 2 * macs_per_image * batch / value / 1e9
        rows[name] = {"ms": value * 1000, "ratio": value / seconds[reference],
                      "gflops": gflops, "share_of_bf16_peak": gflops / peak_gflops}
        print(f"  {name:<34}{value * 1000:>9.1f}{rows[name]['ratio']:>22.2f}"
              f"{gflops:>10.0f}{100 * gflops / peak_gflops:>13.0f}%", flush=True)
    return rows


def op_type_stats(logdir):
    """{op type: [self time us, occurrences]} from the profiler's framework
    op statistics (xprof)."""
    import glob
    import json

    from xprof.convert import raw_to_tool_data

    xspace = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
    data, _ = raw_to_tool_data.xspace_to_tool_data(xspace, "framework_op_stats", {})
    table = json.loads(data)[0]
    columns = [column["id"] for column in table["cols"]]
    totals = {}
    for row in table["rows"]:
        op = dict(zip(columns, (cell.get("v") for cell in row["c"])))
        if op["type"] == "IDLE":
            continue
        entry = totals.setdefault(op["type"], [0.0, 0])
        entry[0] += op["total_self_time"]
        entry[1] += int(op["occurrences"])
    return totals


def print_op_table(totals, runs, top, per="a step"):
    """The `top` op types of `op_type_stats` by self time: ms per run, share."""
    total = sum(t for t, _ in totals.values())
    width = max([len(name) for name in totals] + [8]) + 2
    print(f"  {'op type':<{width}}{'ms ' + per:>10}{'share':>8}{'ops ' + per:>12}")
    for name, (time_us, count) in sorted(totals.items(), key=lambda kv: -kv[1][0])[:top]:
        print(f"  {name:<{width}}{time_us / runs / 1000:>10.2f}{100 * time_us / total:>7.1f}%"
              f"{count // runs:>12}")
