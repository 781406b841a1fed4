"""The inference form and quantization, in one place.

- `LayerForm`: the one option saying how convs and batch norms are built
  ("trainable", "folded", "quantization_aware");
- `inference_model` (batch norm folded, float32 or bfloat16),
  `quantization_aware_model` (fake-quantized for int8 fine-tuning),
  `compute_dtype_of`;
- the fake-quantization layers (`ActivationQuantizer`, `QuantizedConv2D`, ...);
- int8 calibration with its per-layer error report and the AP budget
  (`Int8Quantizer`, `quantize_within_budget`).

Names are loaded on first use: the layers of `spinenet_tf.layers` import
this package's fake-quantization layers, and the inference form imports
those layers back.
"""

import importlib

_EXPORTS = {
    "LayerForm": "layer_form",
    "inference_model": "inference_form",
    "quantization_aware_model": "inference_form",
    "compute_dtype_of": "inference_form",
    "PRECISIONS": "inference_form",
    "ActivationQuantizer": "fake_quantization",
    "QuantizedConv2D": "fake_quantization",
    "QuantizedDepthwiseConv2D": "fake_quantization",
    "QuantizedSeparableConv2D": "fake_quantization",
    "Int8Quantizer": "int8_quantizer",
    "quantize_within_budget": "int8_quantizer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
