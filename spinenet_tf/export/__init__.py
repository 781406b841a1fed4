"""Export: SavedModel signatures for TF Serving (and, later, TFLite)."""

from spinenet_tf.export.serving import (
    SIGNATURE_INPUTS, ServingModule, export_saved_model)

__all__ = ["SIGNATURE_INPUTS", "ServingModule", "export_saved_model"]
