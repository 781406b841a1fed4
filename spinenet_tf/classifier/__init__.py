"""Image classification on SpineNet: the model and its loss."""

from spinenet_tf.classifier.smoothed_crossentropy import (
    SparseCategoricalCrossentropyWithSmoothing)
from spinenet_tf.classifier.spinenet_classifier import SpineNetClassifier

__all__ = ["SparseCategoricalCrossentropyWithSmoothing", "SpineNetClassifier"]
