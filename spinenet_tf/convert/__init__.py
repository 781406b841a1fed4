"""Import pretrained tf-models-official (Model Garden) weights."""

from spinenet_tf.convert.model_garden import (
    build_model_garden_backbone,
    load_model_garden_checkpoint,
    transfer_model_garden_weights,
)

__all__ = [
    "build_model_garden_backbone",
    "load_model_garden_checkpoint",
    "transfer_model_garden_weights",
]
