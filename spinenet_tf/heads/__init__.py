"""Prediction heads on SpineNet features."""

from spinenet_tf.heads.retinanet_head import RetinaNetHead

__all__ = ["RetinaNetHead"]
