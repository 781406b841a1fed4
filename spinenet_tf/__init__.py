"""SpineNet and SpineNet-Mobile for Keras 3."""

from spinenet_tf.backbones.spinenet import SpineNet
from spinenet_tf.backbones.spinenet_mobile import SpineNetMobile

__version__ = "0.1.0"

__all__ = ["SpineNet", "SpineNetMobile", "__version__"]
