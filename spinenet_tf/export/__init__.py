"""Export: SavedModel signatures for TF Serving, TFLite files for phones."""

from spinenet_tf.export.serving import ServingModule, export_saved_model
from spinenet_tf.export.tflite import QUANTIZATIONS, convert_to_tflite, write_tflite

__all__ = ["QUANTIZATIONS", "ServingModule", "convert_to_tflite",
           "export_saved_model", "write_tflite"]
