"""A model with NaN weights (a diverged run) is refused before export,
naming the variables; int8 calibration of such a model crashes the TFLite
converter instead."""

import numpy as np
import pytest

from spinenet_tf import RetinaNet
from spinenet_tf.export.finite_weights import check_finite_weights
from spinenet_tf.quantization.inference_form import inference_model


def test_non_finite_weights_are_named_before_export():
    model = RetinaNet.from_variant("spinenet-mobile-49xs", num_classes=3, image_size=128,
                                   head_num_convs=1, head_num_filters=8)
    check_finite_weights(model, "fresh")  # nothing to say
    kernel = model.head.class_predictor.weights[0]
    kernel.assign(np.full(kernel.shape, np.nan, "float32"))
    with pytest.raises(ValueError, match=r"1 weights of .* \(runs/x/ckpt-9\) hold NaN or inf: "
                       r".*class_logits/.*\. The run diverged"):
        check_finite_weights(model, "runs/x/ckpt-9")
    kernel.assign(np.zeros(kernel.shape, "float32"))
    variance = next(w for w in model.backbone.weights if w.path.endswith("moving_variance"))
    variance.assign(np.full(variance.shape, -1.0, "float32"))  # folds to sqrt(< 0)
    with np.errstate(invalid="ignore"):
        served = inference_model(model, "float32")
    with pytest.raises(ValueError, match=r"folded weights .* hold NaN or inf"):
        check_finite_weights(served, "x", "folded weights (a batch norm's moving variance "
                             "below -epsilon?)")
