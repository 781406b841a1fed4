"""SpineNet and SpineNet-Mobile for Keras 3."""

from spinenet_tf.backbones.spinenet import SpineNet
from spinenet_tf.backbones.spinenet_mobile import SpineNetMobile
from spinenet_tf.layers.image_preprocessor import ImagePreprocessor
from spinenet_tf.models.inference_form import inference_model
from spinenet_tf.models.retinanet import RetinaNet
from spinenet_tf.models.spinenet_classifier import SpineNetClassifier

__version__ = "0.3.0"

__all__ = [
    "ImagePreprocessor",
    "RetinaNet",
    "SpineNet",
    "SpineNetClassifier",
    "SpineNetMobile",
    "__version__",
    "inference_model",
]
