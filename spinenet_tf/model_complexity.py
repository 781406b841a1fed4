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


def _build_input_shape(layer):
    shapes = getattr(layer, "_build_shapes_dict", None) or {}
    shape = next(iter(shapes.values()), None)
    if shape is None or any(d is None for d in shape[1:]):
        raise ValueError(
            f"Layer {layer.path!r} was built for input shape {shape}; MACs "
            "need a model built with a fixed input size "
            "(e.g. input_shape=(640, 640, 3))."
        )
    return tuple(shape)


def layer_macs(layer):
    """Multiply-adds of one leaf layer for one image (0 if it has none)."""
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        output = layer.compute_output_shape(_build_input_shape(layer))
        kh, kw = layer.kernel_size
        return math.prod(output[1:3]) * kh * kw * output[-1]
    if isinstance(layer, keras.layers.Conv2D):
        input_shape = _build_input_shape(layer)
        output = layer.compute_output_shape(input_shape)
        kh, kw = layer.kernel_size
        in_channels = input_shape[-1] // layer.groups
        return math.prod(output[1:3]) * kh * kw * in_channels * output[-1]
    if isinstance(layer, keras.layers.Dense):
        input_shape = _build_input_shape(layer)
        return math.prod(input_shape[1:]) * layer.units
    return 0


def count_macs(model):
    """Total multiply-adds of `model` for one image."""
    return sum(
        layer_macs(layer)
        for layer in model._flatten_layers(include_self=False, recursive=True)
    )


def count_parameters(model):
    """Number of weights, trainable and not (batch-norm statistics included)."""
    return model.count_params()
