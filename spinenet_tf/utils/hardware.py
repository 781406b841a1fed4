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


def auto_mixed_precision(backbone="spinenet-49", cpuinfo="/proc/cpuinfo"):
    """`trainer.mixed_precision: auto`: "bfloat16" for a SpineNet (bottleneck
    and residual blocks) on a CPU with AMX (matrix units for bfloat16, ~9x
    float32's convolution rate); None (float32) otherwise.

    Measured side by side (docs/training.md, benchmarks/profile_training.py):
    with AMX, bfloat16 trains RetinaNet SpineNet-49S 1.2x faster than
    float32, but SpineNet-Mobile 0.75x as fast: its depthwise convolutions
    and element-wise ops have no fast bfloat16 kernels and its narrow
    layers leave AMX little to do. Without AMX, bfloat16 is 1.1x for
    SpineNet and 0.8x for Mobile, so float32 is the safe choice there. With
    a GPU, set the precision in the config.
    """
    if not isinstance(backbone, str):
        raise TypeError(f"`backbone` must be a variant name; received {backbone!r}.")
    if backbone.startswith("spinenet-mobile"):
        return None
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
