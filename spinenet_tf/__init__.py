"""SpineNet and SpineNet-Mobile for Keras 3."""

import os

# TensorFlow's C++ info lines (oneDNN, CUDA probing) drown the CLIs' output;
# a value the user already set wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from spinenet_tf.backbones.spinenet import SpineNet  # noqa: E402
from spinenet_tf.backbones.spinenet_mobile import SpineNetMobile  # noqa: E402
from spinenet_tf.models.retinanet import RetinaNet  # noqa: E402
from spinenet_tf.models.spinenet_classifier import SpineNetClassifier  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "RetinaNet",
    "SpineNet",
    "SpineNetClassifier",
    "SpineNetMobile",
    "__version__",
]
