"""Import pretrained tf-models-official (Model Garden) weights."""

from spinenet_tf.convert.model_garden import (
    build_model_garden_backbone,
    load_model_garden_backbone_checkpoint,
    transfer_model_garden_weights,
)
from spinenet_tf.convert.model_garden_detection import (
    build_model_garden_retinanet,
    load_model_garden_checkpoint,
    load_model_garden_retinanet_checkpoint,
    transfer_model_garden_classifier_weights,
    transfer_model_garden_retinanet_weights,
)
from spinenet_tf.convert.model_garden_maskrcnn import (
    build_model_garden_maskrcnn,
    transfer_model_garden_maskrcnn_weights,
)

__all__ = [
    "build_model_garden_backbone",
    "build_model_garden_maskrcnn",
    "build_model_garden_retinanet",
    "load_model_garden_backbone_checkpoint",
    "load_model_garden_checkpoint",
    "load_model_garden_retinanet_checkpoint",
    "transfer_model_garden_classifier_weights",
    "transfer_model_garden_maskrcnn_weights",
    "transfer_model_garden_retinanet_weights",
    "transfer_model_garden_weights",
]
