"""SpineNet and SpineNet-Mobile for Keras 3."""

import os
import sys

# Run as a command (`spinenet-demo`, `spinenet-train`, ...), the package is
# imported before the command's module can quieten TensorFlow's C++ start-up
# lines; a user's own setting wins.
if os.path.basename(sys.argv[0] if sys.argv else "").startswith("spinenet-"):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from spinenet_tf.backbones.spinenet import SpineNet
from spinenet_tf.backbones.spinenet_mobile import SpineNetMobile
from spinenet_tf.layers.image_preprocessor import ImagePreprocessor
from spinenet_tf.quantization.inference_form import inference_model, quantization_aware_model
from spinenet_tf.classifier.spinenet_classifier import SpineNetClassifier
from spinenet_tf.retinanet.retinanet import RetinaNet
from spinenet_tf.maskrcnn.maskrcnn import MaskRCNN

__version__ = "0.9.0"

__all__ = [
    "ImagePreprocessor",
    "MaskRCNN",
    "RetinaNet",
    "SpineNet",
    "SpineNetClassifier",
    "SpineNetMobile",
    "__version__",
    "inference_model",
    "quantization_aware_model",
]
