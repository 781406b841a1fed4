"""TFLite export for phones: fp32, fp16, dynamic-range and int8 models.

The `.tflite` takes one fixed-size RGB image `[1, height, width, 3]` with
values 0..255 (float32, or uint8 with `uint8_input=True`); the cast and the
normalisation are inside. A RetinaNet ends in the standard `TFLite_Detection_PostProcess`
custom op with its four outputs (boxes ymin, xmin, ymax, xmax normalised to
0..1; 0-based foreground classes; scores; count), what Android / MediaPipe
object-detection runtimes expect, or, with `post_processing=False`, in the
raw outputs `class_logits [1, N, classes]` and `box_deltas [1, N, 4]` over
the anchors of `RetinaNet.anchors_for`. A classifier returns probabilities.

int8 quantizes the whole body (weights per channel and activations,
calibrated on `representative_images`) to integer ops; the detection
post-processing stays float, as the op requires. `int8_quantizer` gives
the calibrated model's per-layer error report and quantizes it with chosen
layers in float (`spinenet_tf.quantization.int8_quantizer`).
"""

import contextlib
import hashlib
import os
import tempfile
import weakref

import keras
import numpy as np
import tensorflow as tf

from spinenet_tf.export.serving import INFERENCE_SAVE_OPTIONS
from spinenet_tf.ops.tflite_detection_post_process import NMS_TYPES
from spinenet_tf.quantization.int8_quantizer import Int8Quantizer
from spinenet_tf.utils.atomic_files import write_bytes

QUANTIZATIONS = ("fp32", "fp16", "dynamic", "int8")


def _input_size(model):
    shape = model.inputs[0].shape if getattr(model, "inputs", None) else None
    if shape is None or shape[1] is None or shape[2] is None:
        raise ValueError("TFLite export needs a model with a fixed input size; "
                         f"received input shape {shape}.")
    return int(shape[1]), int(shape[2])


def _inference_function(model, post_processing, post_process_config, nms,
                        uint8_input=False):
    """0..255 pixels -> the model's preprocessor -> `model.tflite_outputs`."""
    height, width = _input_size(model)
    input_type = tf.uint8 if uint8_input else tf.float32

    @tf.function(autograph=False, input_signature=[
        tf.TensorSpec([1, height, width, 3], input_type, name="image")])
    def infer(image):
        pixels = tf.cast(image, tf.float32)
        return model.tflite_outputs(model.preprocessor.normalize(pixels),
                                    post_processing=post_processing,
                                    post_process_config=post_process_config, nms=nms)

    return infer


def _check_arguments(quantization, nms):
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {list(QUANTIZATIONS)}; "
                         f"received {quantization!r}.")
    if nms not in NMS_TYPES:
        raise ValueError(f"nms must be one of {list(NMS_TYPES)}; received {nms!r}.")


def convert_to_tflite(model, quantization="fp32", post_processing=True,
                      representative_images=None, uint8_input=False,
                      post_process_config=None, nms="fast"):
    """Converts a RetinaNet or SpineNetClassifier; returns the flatbuffer bytes.

    Args:
        quantization: "fp32", "fp16" (fp16 weights), "dynamic" (int8
            weights, float activations) or "int8" (full integer body; see
            `int8_quantizer` for the per-layer report and float layers).
        post_processing: end a detector in `TFLite_Detection_PostProcess`
            (else raw outputs).
        representative_images: for "int8": an iterable of uint8 or float
            0..255 images `[height, width, 3]` of the model's input size.
        uint8_input: the input tensor is uint8 (cast to float inside).
        post_process_config: a `TFLitePostProcessConfig` for the op
            (default: `model.tflite_post_process_config(nms)`).
        nms: "fast" or "regular", see `TFLitePostProcessConfig.from_generator`.
    """
    _check_arguments(quantization, nms)
    if quantization == "int8":
        if representative_images is None:
            raise ValueError("int8 needs `representative_images` to calibrate on.")
        return int8_quantizer(model, representative_images, post_processing, uint8_input,
                              post_process_config, nms).quantize()
    with _converter(model, post_processing, uint8_input, post_process_config,
                    nms) as converter:
        if quantization == "fp16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        elif quantization == "dynamic":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        return converter.convert()


def int8_quantizer(model, representative_images, post_processing=True, uint8_input=False,
                   post_process_config=None, nms="fast", report_images=32):
    """The model calibrated for int8 on `representative_images`: an
    `Int8Quantizer` with the per-layer error report (measured on the first
    `report_images` of them) whose `quantize(float_nodes)` gives the file."""
    _check_arguments("int8", nms)
    height, width = _input_size(model)
    images = list(representative_images)
    if not images:
        raise ValueError("`representative_images` is empty.")
    for index, image in enumerate(images):
        if tuple(np.shape(image)) != (height, width, 3):
            raise ValueError(
                f"Representative image {index} has shape {np.shape(image)}; "
                f"the model takes ({height}, {width}, 3).")
    dtype = "uint8" if uint8_input else "float32"

    def dataset(limit=None):
        def generate():
            for image in images[:limit]:
                pixels = np.asarray(image, "float32")
                if uint8_input:
                    pixels = np.clip(np.round(pixels), 0, 255)
                yield [pixels.astype(dtype)[None]]
        return generate

    with _converter(model, post_processing, uint8_input, post_process_config,
                    nms) as converter:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = dataset()
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                               tf.lite.OpsSet.TFLITE_BUILTINS]
        return Int8Quantizer(converter, report_dataset=dataset(report_images),
                             outer_scopes=(model.name, model.backbone.name))


# model -> {(arguments, weights fingerprint): temporary SavedModel folder}
_SAVED_FUNCTIONS = weakref.WeakKeyDictionary()


def _weights_fingerprint(model):
    digest = hashlib.sha1()
    for variable in model.variables:
        digest.update(variable.path.encode())
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(variable)).tobytes())
    return digest.hexdigest()


def _saved_inference_function(model, post_processing, uint8_input, post_process_config,
                              nms):
    """The folder of a temporary SavedModel of the model's inference function,
    written once per model, arguments and weights: an export that converts
    several files (int8 and the fp32 file it is measured against) saves the
    function once. Folders go when the model does."""
    key = (post_processing, uint8_input, repr(post_process_config), nms,
           _weights_fingerprint(model))
    saved = _SAVED_FUNCTIONS.setdefault(model, {})
    if key not in saved:
        infer = _inference_function(model, post_processing, post_process_config, nms,
                                    uint8_input)
        module = tf.Module()
        module.infer = infer
        # TensorFlow's tracking does not follow Keras 3 layers held in lists,
        # so the variables are listed; as the tf.Variables inside Keras'
        # wrappers, which the converter freezes into constants (it keeps the
        # wrappers as resource variables that LiteRT reads as garbage).
        module.model_variables = [variable.value for variable in model.variables]
        folder = tempfile.TemporaryDirectory(prefix="spinenet_tflite_")
        # Through a SavedModel: the only path on which the converter keeps
        # the post-processing function whole and replaces it with the op.
        tf.saved_model.save(module, folder.name, signatures={"serving_default": infer},
                            options=INFERENCE_SAVE_OPTIONS)
        saved[key] = folder
    return saved[key].name


@contextlib.contextmanager
def _converter(model, post_processing, uint8_input, post_process_config, nms):
    """A `TFLiteConverter` for the model's inference function."""
    converter = tf.lite.TFLiteConverter.from_saved_model(_saved_inference_function(
        model, post_processing, uint8_input, post_process_config, nms))
    converter.allow_custom_ops = True
    yield converter


def write_tflite(flatbuffer, path):
    """Writes the flatbuffer (atomically: a killed write leaves the previous
    file or none); returns its absolute path and size in bytes."""
    write_bytes(path, flatbuffer)
    return os.path.abspath(path), len(flatbuffer)
