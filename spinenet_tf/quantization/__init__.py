"""Whole-model inference forms and int8.

- `inference_model` (batch norm folded, float32 or bfloat16),
  `quantization_aware_model` (fake-quantized for int8 fine-tuning),
  `compute_dtype_of`;
- int8 calibration with its per-layer error report and the AP budget
  (`Int8Quantizer`, `quantize_within_budget`).

The layers these forms are built from (`LayerForm`, the fake-quantization
layers) are in `spinenet_tf.layers`.
"""

from spinenet_tf.quantization.inference_form import (
    PRECISIONS,
    compute_dtype_of,
    inference_model,
    quantization_aware_model,
)
from spinenet_tf.quantization.int8_quantizer import Int8Quantizer, quantize_within_budget

__all__ = ["Int8Quantizer", "PRECISIONS", "compute_dtype_of", "inference_model",
           "quantization_aware_model", "quantize_within_budget"]
