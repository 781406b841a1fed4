"""Task models on SpineNet: RetinaNet detection and image classification."""

from spinenet_tf.models.inference_form import inference_model, quantization_aware_model
from spinenet_tf.models.retinanet import RetinaNet
from spinenet_tf.models.retinanet_configs import (
    RETINANET_CONFIGS,
    RetinaNetConfig,
    get_retinanet_config,
)
from spinenet_tf.models.spinenet_classifier import (
    SparseCategoricalCrossentropyWithSmoothing,
    SpineNetClassifier,
)

__all__ = [
    "RETINANET_CONFIGS",
    "RetinaNet",
    "RetinaNetConfig",
    "SparseCategoricalCrossentropyWithSmoothing",
    "SpineNetClassifier",
    "get_retinanet_config",
    "inference_model",
    "quantization_aware_model",
]
