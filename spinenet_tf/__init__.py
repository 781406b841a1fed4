"""SpineNet and SpineNet-Mobile for Keras 3."""

import os
import sys

# Run as a command (`python -m spinenet_tf.demo`, `... .search`), the package
# is imported before the command's module can quieten TensorFlow's C++
# start-up lines; a user's own setting wins.
_argv = getattr(sys, "orig_argv", [])
if "-m" in _argv[:-1] and _argv[_argv.index("-m") + 1].startswith("spinenet_tf."):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from spinenet_tf.backbones.spinenet import SpineNet
from spinenet_tf.backbones.spinenet_mobile import SpineNetMobile
from spinenet_tf.layers.image_preprocessor import ImagePreprocessor
from spinenet_tf.models.inference_form import inference_model, quantization_aware_model
from spinenet_tf.models.retinanet import RetinaNet
from spinenet_tf.models.spinenet_classifier import SpineNetClassifier

__version__ = "0.6.0"

__all__ = [
    "ImagePreprocessor",
    "RetinaNet",
    "SpineNet",
    "SpineNetClassifier",
    "SpineNetMobile",
    "__version__",
    "inference_model",
    "quantization_aware_model",
]
