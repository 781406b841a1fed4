"""What machine a figure came from: CPU model and the flags that change
SpineNet's speed (AVX-512, AVX-512 BF16, AMX)."""

import os
import platform

FLAGS_OF_INTEREST = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile",
                     "amx_bf16", "amx_int8")


def cpu_flags(cpuinfo="/proc/cpuinfo"):
    """(CPU model name, the flags of interest it has), from /proc/cpuinfo
    (("unknown", ()) where there is none, e.g. not on Linux)."""
    try:
        with open(cpuinfo) as f:
            text = f.read()
    except OSError:
        return platform.processor() or "unknown", ()
    model, flags = "unknown", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and model == "unknown":
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = set(value.split())
    return model, tuple(flag for flag in FLAGS_OF_INTEREST if flag in flags)


def auto_mixed_precision(cpuinfo="/proc/cpuinfo"):
    """`trainer.mixed_precision: auto`: "bfloat16" on CPUs with AMX (matrix
    units for bfloat16: ~9x float32's convolution rate), else None (float32).

    Measured on AVX-512 BF16 without AMX (docs/training.md): bfloat16 trains
    SpineNet-49S 1.13x faster but SpineNet-Mobile 0.8x as fast (its
    depthwise-convolution gradients have no fast bfloat16 kernel there), so
    float32 is the safe choice without AMX. With a GPU, set the precision in
    the config.
    """
    return "bfloat16" if "amx_bf16" in cpu_flags(cpuinfo)[1] else None


def hardware_line():
    """One line for a benchmark's header: CPU, cores, flags, TensorFlow."""
    import tensorflow as tf

    model, flags = cpu_flags()
    return (f"CPU: {model}, {os.cpu_count()} cores; flags: "
            f"{' '.join(flags) or 'none of ' + ' '.join(FLAGS_OF_INTEREST)}"
            f"{'' if 'amx_bf16' in flags else ' (no AMX: bfloat16 has no matrix units)'}; "
            f"TensorFlow {tf.__version__}")


def conv_gflops(dtype="float32", shape=(1, 160, 160, 256), filters=256, runs=10):
    """Measured throughput (GFLOP/s, 2 per multiply-add) of one 3x3 conv in
    `dtype` ("float32" or "bfloat16"): the peak a model's figures are read
    against on this machine (bfloat16 is ~2x float32 with AVX-512 BF16
    alone, ~9x with AMX)."""
    import statistics
    import time

    import tensorflow as tf

    rng = tf.random.Generator.from_seed(0)
    x = tf.cast(rng.normal(shape), dtype)
    kernel = tf.cast(rng.normal((3, 3, shape[-1], filters)), dtype)
    conv = tf.function(lambda x, k: tf.nn.conv2d(x, k, 1, "SAME"))
    for _ in range(3):
        conv(x, kernel).numpy()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        conv(x, kernel).numpy()
        times.append(time.perf_counter() - start)
    flops = 2 * shape[0] * shape[1] * shape[2] * shape[3] * filters * 9
    return flops / statistics.median(times) / 1e9
