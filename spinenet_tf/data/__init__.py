"""Input data for SpineNet models."""

from spinenet_tf.data.preprocessing import (
    normalize_image,
    preprocess_for_detection,
    resize_and_pad,
)

__all__ = ["normalize_image", "preprocess_for_detection", "resize_and_pad"]
