"""Batch norms with the statistics of a trained network, for measuring a
fresh model: parity against a reference, folding, quantization, latency."""

import numpy as np


def randomize_batch_norm(model, seed=0):
    """Gives every batch norm non-trivial statistics and affine weights.

    Freshly built models have mean 0 / variance 1 / gamma 1 / beta 0, which
    would hide a wrongly paired batch norm in a parity test. Each channel
    gets its own values; gamma <= 1 <= variance so, as in a trained network,
    no batch norm amplifies, and activations of deep variants stay O(1).
    """
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        name = weight.name
        if "variance" in name:
            weight.assign(rng.uniform(1.0, 2.0, weight.shape).astype("float32"))
        elif "gamma" in name:
            weight.assign(rng.uniform(0.5, 1.0, weight.shape).astype("float32"))
        elif "moving_mean" in name or "beta" in name:
            weight.assign(rng.normal(0.0, 0.1, weight.shape).astype("float32"))
