"""Strided convolutions that pad like the TPU model zoo's SpineNet.

Keras' `padding="same"` pads a stride-2 conv on an even input by
`(k - 2) // 2` before and `k // 2` after (7x7: 2 / 3, 3x3: 0 / 1); the
tensorflow/tpu code (`conv2d_fixed_padding`) pads `(k - 1) // 2` before and
the rest after, whatever the input size, and convolves VALID. The two
disagree on every even-sized map, so loading a model-zoo checkpoint needs
the second. A stride-1 conv with an odd kernel pads the same either way.
"""

import keras

from spinenet_tf.layers.fake_quantization import QuantizedConv2D, QuantizedDepthwiseConv2D

CONV_PADDINGS = ("same", "fixed")


def check_conv_padding(conv_padding):
    """Returns `conv_padding` if it is one of `CONV_PADDINGS`, else raises."""
    if conv_padding not in CONV_PADDINGS:
        raise ValueError(
            f"`conv_padding` must be one of {list(CONV_PADDINGS)}; received "
            f"{conv_padding!r}.")
    return conv_padding


class FixedPadding:
    """Mixin: pad `(k - 1) // 2` before and `k - 1 - (k - 1) // 2` after on
    both spatial axes, then convolve with the layer's own VALID padding."""

    def _pads(self):
        pads = []
        for size in self.kernel_size:
            before = (size - 1) // 2
            pads.append((before, size - 1 - before))
        return pads

    def call(self, inputs, *args, **kwargs):
        (top, bottom), (left, right) = self._pads()
        padded = keras.ops.pad(
            inputs, [[0, 0], [top, bottom], [left, right], [0, 0]])
        return super().call(padded, *args, **kwargs)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, (before, after) in zip((1, 2), self._pads()):
            if shape[axis] is not None:
                shape[axis] += before + after
        return super().compute_output_shape(tuple(shape))


@keras.saving.register_keras_serializable(package="spinenet_tf")
class FixedPaddingConv2D(FixedPadding, keras.layers.Conv2D):
    """`keras.layers.Conv2D` with the model zoo's fixed padding."""


@keras.saving.register_keras_serializable(package="spinenet_tf")
class FixedPaddingQuantizedConv2D(FixedPadding, QuantizedConv2D):
    """`QuantizedConv2D` with the model zoo's fixed padding."""


@keras.saving.register_keras_serializable(package="spinenet_tf")
class FixedPaddingDepthwiseConv2D(FixedPadding, keras.layers.DepthwiseConv2D):
    """`keras.layers.DepthwiseConv2D` with the model zoo's fixed padding."""


@keras.saving.register_keras_serializable(package="spinenet_tf")
class FixedPaddingQuantizedDepthwiseConv2D(FixedPadding, QuantizedDepthwiseConv2D):
    """`QuantizedDepthwiseConv2D` with the model zoo's fixed padding."""


def conv_class(depthwise, fake_quantizes, fixed_padding):
    """The conv layer class for a (depthwise?, quantized?, fixed?) conv."""
    return {
        (False, False, False): keras.layers.Conv2D,
        (False, True, False): QuantizedConv2D,
        (True, False, False): keras.layers.DepthwiseConv2D,
        (True, True, False): QuantizedDepthwiseConv2D,
        (False, False, True): FixedPaddingConv2D,
        (False, True, True): FixedPaddingQuantizedConv2D,
        (True, False, True): FixedPaddingDepthwiseConv2D,
        (True, True, True): FixedPaddingQuantizedDepthwiseConv2D,
    }[(bool(depthwise), bool(fake_quantizes), bool(fixed_padding))]
