"""The model families, one folder each; importing this package registers
them (`spinenet_tf.registry`). Adding a family is its folder and one line
here (docs/architecture.md)."""

from spinenet_tf.models import cascade_rcnn, classifier, maskrcnn, retinanet  # noqa: F401

__all__ = ["cascade_rcnn", "classifier", "maskrcnn", "retinanet"]
