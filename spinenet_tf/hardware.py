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


def hardware_line():
    """One line for a benchmark's header: CPU, cores, flags, TensorFlow."""
    import tensorflow as tf

    model, flags = cpu_flags()
    return (f"CPU: {model}, {os.cpu_count()} cores; flags: "
            f"{' '.join(flags) or 'none of ' + ' '.join(FLAGS_OF_INTEREST)}"
            f"{'' if 'amx_bf16' in flags else ' (no AMX: bfloat16 has no matrix units)'}; "
            f"TensorFlow {tf.__version__}")
