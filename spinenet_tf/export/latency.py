"""The latency figure `--verify` and the demo print."""

import statistics
import time


def latency_ms(function, *args, runs=20, warmup=3):
    """Median milliseconds of `function(*args)`."""
    for _ in range(warmup):
        function(*args)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function(*args)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
