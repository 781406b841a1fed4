"""Parameters and multiply-adds of a built Keras model, counted from its layers.

Multiply-adds (MACs) are those of the convolutions and dense layers, as the
SpineNet papers count them: a conv producing an `H x W x C_out` map with a
`k x k` kernel over `C_in / groups` channels costs `H * W * k * k *
C_in / groups * C_out`. Normalisation, activations, pooling, resizing and
additions are not counted. Shapes come from the input shape each layer was
built with, so the model must be built for a fixed input size.
"""

import math

import keras

from spinenet_tf.compat.keras_internals import build_input_shape, flatten_layers


def _build_input_shape(layer):
    shape = build_input_shape(layer)
    if shape is None or any(d is None for d in shape[1:]):
        raise ValueError(
            f"Layer {layer.path!r} was built for input shape {shape}; MACs "
            "need a model built with a fixed input size "
            "(e.g. input_shape=(640, 640, 3))."
        )
    return tuple(shape)


def conv_macs(layer, input_shape):
    """Multiply-adds of a convolution layer applied to `input_shape`."""
    if any(d is None for d in tuple(input_shape)[1:]):
        raise ValueError(
            f"Layer {layer.path!r} input shape {tuple(input_shape)} has "
            "unknown dims; MACs need a fixed input size.")
    output = layer.compute_output_shape(tuple(input_shape))
    kh, kw = layer.kernel_size
    pixels = math.prod(output[1:3])
    in_channels = input_shape[-1]
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return pixels * kh * kw * output[-1]
    if isinstance(layer, keras.layers.SeparableConv2D):
        depthwise = pixels * kh * kw * in_channels * layer.depth_multiplier
        return depthwise + pixels * in_channels * layer.depth_multiplier * output[-1]
    return pixels * kh * kw * in_channels // layer.groups * output[-1]


def layer_macs(layer):
    """Multiply-adds of one leaf layer for one image (0 if it has none)."""
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D,
                          keras.layers.SeparableConv2D)):
        return conv_macs(layer, _build_input_shape(layer))
    if isinstance(layer, keras.layers.Dense):
        input_shape = _build_input_shape(layer)
        return math.prod(input_shape[1:]) * layer.units
    return 0


def count_macs(model):
    """Total multiply-adds of `model` for one image.

    A layer with its own `count_macs()` (e.g. a head whose convolutions are
    shared across pyramid levels, so one build shape does not describe
    them) is asked for its figure and not descended into.
    """
    total = 0
    for layer in flatten_layers(model, recursive=False):
        if hasattr(layer, "count_macs"):
            total += layer.count_macs()
        elif flatten_layers(layer, recursive=False):
            total += count_macs(layer)
        else:
            total += layer_macs(layer)
    return total


def count_parameters(model):
    """Number of weights, trainable and not (batch-norm statistics included)."""
    return model.count_params()
