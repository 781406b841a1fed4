"""The published SpineNet checkpoints (presets): where they are, how they
are fetched and read into the models their families build. The presets
themselves are each family's (`models/<family>/presets.py`); the registry
lists them."""

from spinenet_tf.pretrained.archives import PretrainedArchiveError, download, resolve_checkpoint
from spinenet_tf.pretrained.loading import (
    build_preset_model,
    load_preset_weights,
    load_pretrained,
    model_zoo_names,
)
from spinenet_tf.pretrained.model_garden_checkpoint import (
    load_model_garden_checkpoint,
    load_model_garden_checkpoint_by_keys,
)
from spinenet_tf.pretrained.preset import MODEL_GARDEN_TF2, TPU_MODEL_ZOO, Preset, catalog_table
from spinenet_tf.pretrained.tf1_checkpoint import load_named_variables

__all__ = ["MODEL_GARDEN_TF2", "PretrainedArchiveError", "Preset", "TPU_MODEL_ZOO",
           "build_preset_model",
           "catalog_table", "download", "load_model_garden_checkpoint",
           "load_model_garden_checkpoint_by_keys", "load_named_variables",
           "load_preset_weights", "load_pretrained", "model_zoo_names", "resolve_checkpoint"]
