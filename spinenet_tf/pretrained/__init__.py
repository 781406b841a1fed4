"""The published SpineNet checkpoints: a catalog and a loader."""

from spinenet_tf.pretrained.catalog import CATALOG, CatalogEntry, get_entry
from spinenet_tf.pretrained.loading import (
    PretrainedArchiveError, build_model, checkpoint_names, load_pretrained,
    resolve_checkpoint)

__all__ = [
    "CATALOG",
    "CatalogEntry",
    "PretrainedArchiveError",
    "build_model",
    "checkpoint_names",
    "get_entry",
    "load_pretrained",
    "resolve_checkpoint",
]
