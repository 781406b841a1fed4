"""TFLite export for phones: fp32, fp16, dynamic-range and int8 models.

The `.tflite` takes one fixed-size RGB image `[1, height, width, 3]` with
values 0..255 (float32, or uint8 with `uint8_input=True`); normalisation is
inside. A RetinaNet ends in the standard `TFLite_Detection_PostProcess`
custom op with its four outputs (boxes ymin, xmin, ymax, xmax normalised to
0..1; 0-based foreground classes; scores; count), what Android / MediaPipe
object-detection runtimes expect, or, with `post_processing=False`, in the
raw outputs `class_logits [1, N, classes]` and `box_deltas [1, N, 4]` over
the anchors of `RetinaNet.anchors_for`. A classifier returns probabilities.

int8 quantizes the whole body (weights and activations, calibrated on
`representative_images`) to integer ops; the detection post-processing
stays float, as the op requires.
"""

import os
import tempfile

import numpy as np
import tensorflow as tf

from spinenet_tf.detection.tflite_post_process import NMS_TYPES

QUANTIZATIONS = ("fp32", "fp16", "dynamic", "int8")


def _input_size(model):
    shape = model.inputs[0].shape if getattr(model, "inputs", None) else None
    if shape is None or shape[1] is None or shape[2] is None:
        raise ValueError("TFLite export needs a model with a fixed input size; "
                         f"received input shape {shape}.")
    return int(shape[1]), int(shape[2])


def _inference_function(model, post_processing, post_process_config, nms):
    """0..255 pixels -> the model's preprocessor -> `model.tflite_outputs`."""
    height, width = _input_size(model)

    @tf.function(input_signature=[tf.TensorSpec([1, height, width, 3], tf.float32,
                                                 name="image")])
    def infer(image):
        return model.tflite_outputs(model.preprocessor.normalize(image),
                                    post_processing=post_processing,
                                    post_process_config=post_process_config, nms=nms)

    return infer


def convert_to_tflite(model, quantization="fp32", post_processing=True,
                      representative_images=None, uint8_input=False,
                      post_process_config=None, nms="fast"):
    """Converts a RetinaNet or SpineNetClassifier; returns the flatbuffer bytes.

    Args:
        quantization: "fp32", "fp16" (fp16 weights), "dynamic" (int8
            weights, float activations) or "int8" (full integer body).
        post_processing: end a detector in `TFLite_Detection_PostProcess`
            (else raw outputs).
        representative_images: for "int8": an iterable of uint8 or float
            0..255 images `[height, width, 3]` of the model's input size.
        uint8_input: the input tensor is uint8 ("int8" only).
        post_process_config: a `TFLitePostProcessConfig` for the op
            (default: `model.tflite_post_process_config(nms)`).
        nms: "fast" or "regular", see `TFLitePostProcessConfig.from_decoder`.
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {list(QUANTIZATIONS)}; "
                         f"received {quantization!r}.")
    if quantization == "int8" and representative_images is None:
        raise ValueError("int8 needs `representative_images` to calibrate on.")
    if uint8_input and quantization != "int8":
        raise ValueError(f"uint8_input needs quantization='int8'; received {quantization!r}.")
    if nms not in NMS_TYPES:
        raise ValueError(f"nms must be one of {list(NMS_TYPES)}; received {nms!r}.")
    infer = _inference_function(model, post_processing, post_process_config, nms)
    module = tf.Module()
    module.infer = infer
    # TensorFlow's tracking does not follow Keras 3 layers held in lists,
    # so the variables are listed; as the tf.Variables inside Keras'
    # wrappers, which the converter freezes into constants (it keeps the
    # wrappers as resource variables that LiteRT reads as garbage).
    module.model_variables = [variable.value for variable in model.variables]
    with tempfile.TemporaryDirectory() as folder:
        # Through a SavedModel: the only path on which the converter keeps
        # the post-processing function whole and replaces it with the op.
        tf.saved_model.save(module, folder, signatures={"serving_default": infer})
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        converter.allow_custom_ops = True
        if quantization == "fp16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        elif quantization == "dynamic":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        elif quantization == "int8":
            height, width = _input_size(model)
            images = list(representative_images)
            if not images:
                raise ValueError("`representative_images` is empty.")
            for index, image in enumerate(images):
                if tuple(np.shape(image)) != (height, width, 3):
                    raise ValueError(
                        f"Representative image {index} has shape {np.shape(image)}; "
                        f"the model takes ({height}, {width}, 3).")

            def representative_dataset():
                for image in images:
                    yield [np.asarray(image, "float32")[None]]

            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = representative_dataset
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                                   tf.lite.OpsSet.TFLITE_BUILTINS]
            return _full_integer(converter, tf.uint8 if uint8_input else tf.float32)
        return converter.convert()


# The range (scale * 255) the converter gives a tensor that was constant
# during calibration: its minimum, 2e-6.
_CONSTANT_RANGE = 2e-6


def _full_integer(converter, input_type):
    """Calibrates, then quantizes; ops that write or read a tensor that was
    constant during calibration stay float.

    Such tensors occur in trained SpineNet-Mobile models: a squeeze-excitation
    with one reduce channel whose ReLU is 0 on every calibration image. The
    converter gives them a range of 2e-6, and LiteRT's XNNPACK delegate cannot
    requantize across it: on such a file it fails, and in the full model
    aborts the process ("double free or corruption"). The same two steps as
    `converter.convert()` (calibrate, then MLIR quantize), run by hand so
    that the second can keep those few ops float, as TensorFlow's own
    `QuantizationDebugger` does.
    """
    from tensorflow.lite.python.convert import mlir_quantize

    converter._experimental_calibrate_only = True
    calibrated = converter.convert()
    quantized = mlir_quantize(calibrated, input_data_type=input_type)
    nodes = _nodes_around_constant_tensors(quantized)
    if nodes:
        quantized = mlir_quantize(calibrated, input_data_type=input_type,
                                  denylisted_nodes=nodes)
    return quantized


def _nodes_around_constant_tensors(flatbuffer):
    """Output names of the ops that write or read an int8 activation that
    was constant during calibration."""
    from ai_edge_litert import interpreter as litert

    interpreter = litert.Interpreter(
        model_content=flatbuffer,
        experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    operations = interpreter._get_ops_details()  # as QuantizationDebugger reads them
    written = {index for op in operations for index in op["outputs"]}
    constant = {index for index in written
                if 0 < tensors[index]["quantization_parameters"]["scales"].size
                and tensors[index]["quantization_parameters"]["scales"].max() * 255
                <= _CONSTANT_RANGE * 1.001}
    return sorted({tensors[index]["name"] for op in operations
                   if constant & set(op["inputs"]) | constant & set(op["outputs"])
                   for index in op["outputs"]})


def write_tflite(flatbuffer, path):
    """Writes the flatbuffer; returns its absolute path and size in bytes."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(flatbuffer)
    return os.path.abspath(path), len(flatbuffer)
