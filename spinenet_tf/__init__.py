"""SpineNet and SpineNet-Mobile for Keras 3, with the model families built
on them (RetinaNet, Mask R-CNN, Cascade R-CNN, the classifier), their
published weights, training and export."""

import os
import sys

from spinenet_tf.utils.native_logs import native_log_filter  # the standard library only

# Run as a command (`spinenet-demo`, `spinenet-train`, ..., or a checkout's
# `train.py` / `export_saved_model.py`), the package is imported before the
# command's module can quieten TensorFlow's C++ start-up lines; a user's own
# setting wins. TensorFlow 2.21 writes a few INFO lines while it loads (no
# CUDA drivers, absl not initialised) whatever TF_CPP_MIN_LOG_LEVEL says:
# those are held back during its import; errors still come through.
_COMMAND = os.path.basename(sys.argv[0] if sys.argv else "")
if _COMMAND.startswith("spinenet-") or _COMMAND in ("train.py", "export_saved_model.py"):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with native_log_filter():
        import tensorflow  # noqa: F401

from spinenet_tf import models  # noqa: E402,F401 - registers every model family
from spinenet_tf.backbones.spinenet import SpineNet  # noqa: E402
from spinenet_tf.backbones.spinenet_mobile import SpineNetMobile  # noqa: E402
from spinenet_tf.layers.image_preprocessor import ImagePreprocessor  # noqa: E402
from spinenet_tf.models.cascade_rcnn import CascadeRCNN  # noqa: E402
from spinenet_tf.models.classifier import SpineNetClassifier  # noqa: E402
from spinenet_tf.models.maskrcnn import MaskRCNN  # noqa: E402
from spinenet_tf.models.retinanet import RetinaNet  # noqa: E402
from spinenet_tf.pretrained.loading import load_pretrained  # noqa: E402
from spinenet_tf.quantization.inference_form import inference_model, quantization_aware_model  # noqa: E402

__version__ = "0.10.0"

__all__ = [
    "CascadeRCNN",
    "ImagePreprocessor",
    "MaskRCNN",
    "RetinaNet",
    "SpineNet",
    "SpineNetClassifier",
    "SpineNetMobile",
    "__version__",
    "inference_model",
    "load_pretrained",
    "quantization_aware_model",
]
