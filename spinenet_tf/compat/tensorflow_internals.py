"""TensorFlow modules outside its exported API."""

from spinenet_tf.compat.versions import InternalChanged, require


def tflite_flatbuffer_utils():
    """`tensorflow.lite.tools.flatbuffer_utils`: reads a `.tflite` file's
    graph (ops, tensors and their quantization), which no public API gives."""
    require("tensorflow", "tensorflow.lite.tools.flatbuffer_utils")
    try:
        from tensorflow.lite.tools import flatbuffer_utils
    except ImportError:
        raise InternalChanged("spinenet_tf uses tensorflow.lite.tools.flatbuffer_utils, "
                              "which this TensorFlow does not ship.") from None
    return flatbuffer_utils


def convert_variables_to_constants_v2(concrete_function):
    """A concrete function with its variables frozen into constants
    (`tensorflow.python.framework.convert_to_constants`), for the profiler."""
    require("tensorflow", "tensorflow.python.framework.convert_to_constants")
    try:
        from tensorflow.python.framework import convert_to_constants
    except ImportError:
        raise InternalChanged("spinenet_tf uses tensorflow.python.framework."
                              "convert_to_constants, which this TensorFlow lacks.") from None
    return convert_to_constants.convert_variables_to_constants_v2(concrete_function)
