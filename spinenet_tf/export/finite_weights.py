"""Refuses to export a model with NaN or inf weights: a diverged run or a
damaged checkpoint would otherwise give a SavedModel of NaN detections, and
int8 calibration of such a model crashes the TFLite converter."""

import numpy as np

SHOWN = 5


def check_finite_weights(model, source, what="weights"):
    """An error naming the non-finite variables of `model` (`source` says
    where the weights came from)."""
    bad = [weight.path for weight in model.weights
           if "float" in str(weight.dtype) and not np.isfinite(np.asarray(weight.numpy(), np.float32)).all()]
    if bad:
        listed = ", ".join(bad[:SHOWN]) + (f" and {len(bad) - SHOWN} more"
                                           if len(bad) > SHOWN else "")
        raise ValueError(
            f"{len(bad)} {what} of {model.name} ({source}) hold NaN or inf: {listed}. The "
            "run diverged or the checkpoint is damaged; export an earlier checkpoint "
            "(checkpoints/) or retrain with a lower learning rate.")
