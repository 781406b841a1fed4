"""Fake quantization for quantization-aware training in Keras 3.

What the int8 TFLite file computes, simulated in float during training
with Keras' own `keras.quantizers.fake_quant_with_min_max_vars` (on the
TensorFlow backend TensorFlow's FakeQuant ops, which the TFLite converter
reads as the tensors' quantization ranges):

- `QuantizedConv2D`, `QuantizedDepthwiseConv2D`,
  `QuantizedSeparableConv2D`: kernels rounded to
  int8 per output channel, symmetric over [-max|w|, max|w|] in 255 steps:
  the grid the converter quantizes weights to.
- `ActivationQuantizer`: an activation rounded to 256 steps of a range
  that training tracks (a moving average of the batches' minimum and
  maximum, as in TensorFlow Model Optimization's default 8-bit scheme).

Gradients pass straight through the rounding inside the range.
"""

import keras
from keras import ops

# The narrowest activation range: a tensor that is (nearly) constant gets
# 256 steps of 0.01, not of its own width. The converter's 2e-6 for such
# tensors leaves requantization scales that XNNPACK cannot run.
MIN_RANGE = 0.01


def quantize_kernel(kernel, channel_axis):
    """`kernel` on the symmetric int8 grid of each channel along
    `channel_axis` (narrow range: -127..127 times max|w| / 127)."""
    reduce_axes = [axis for axis in range(len(kernel.shape)) if axis != channel_axis]
    kernel = ops.cast(kernel, "float32")
    bound = ops.maximum(ops.max(ops.abs(kernel), axis=reduce_axes), 1e-8)
    return keras.quantizers.fake_quant_with_min_max_vars(
        kernel, -bound, bound, num_bits=8, narrow_range=True, axis=channel_axis)


def _check_depthwise_layout(layer):
    """The per-channel axis of the fake quantization assumes channels last
    and one output channel per input channel."""
    if layer.data_format != "channels_last" or layer.depth_multiplier != 1:
        raise ValueError(
            f"{type(layer).__name__} supports channels_last with depth_multiplier 1; "
            f"received {layer.data_format!r} and {layer.depth_multiplier}.")


def _bias_and_activation(layer, outputs):
    """The end of a Keras conv's `call`: bias (channels last), activation."""
    if layer.use_bias:
        outputs = ops.add(outputs, layer.bias)
    if layer.activation is not None:
        return layer.activation(outputs)
    return outputs


@keras.saving.register_keras_serializable(package="spinenet_tf")
class QuantizedConv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` whose kernel is fake-quantized to int8 per
    output channel."""

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(
            inputs, ops.cast(quantize_kernel(kernel, channel_axis=3), inputs.dtype))


@keras.saving.register_keras_serializable(package="spinenet_tf")
class QuantizedDepthwiseConv2D(keras.layers.DepthwiseConv2D):
    """`keras.layers.DepthwiseConv2D` whose kernel is fake-quantized to
    int8 per output channel (channels last)."""

    def call(self, inputs):
        _check_depthwise_layout(self)
        kernel = ops.cast(quantize_kernel(self.kernel, channel_axis=2), inputs.dtype)
        outputs = ops.depthwise_conv(inputs, kernel, strides=self.strides,
                                     padding=self.padding,
                                     dilation_rate=self.dilation_rate,
                                     data_format=self.data_format)
        return _bias_and_activation(self, outputs)


@keras.saving.register_keras_serializable(package="spinenet_tf")
class QuantizedSeparableConv2D(keras.layers.SeparableConv2D):
    """`keras.layers.SeparableConv2D` whose depthwise and pointwise kernels
    are fake-quantized to int8 per output channel (channels last); TFLite
    runs it as a depthwise conv and a 1x1 conv.

    The depthwise kernel is fake-quantized in training only: the converter
    gives a bias-less depthwise conv under fake quantization a bias scale
    that does not match its per-channel weights (XNNPACK then refuses the
    file), while quantizing the plain kernel puts it on the same grid.
    """

    def call(self, inputs, training=None):
        _check_depthwise_layout(self)
        depthwise = self.depthwise_kernel
        if training:
            depthwise = quantize_kernel(depthwise, channel_axis=2)
        pointwise = ops.cast(quantize_kernel(self.pointwise_kernel, channel_axis=3),
                             inputs.dtype)
        outputs = ops.depthwise_conv(inputs, ops.cast(depthwise, inputs.dtype),
                                     strides=self.strides, padding=self.padding,
                                     dilation_rate=self.dilation_rate)
        outputs = ops.conv(outputs, pointwise, padding="valid")
        return _bias_and_activation(self, outputs)


@keras.saving.register_keras_serializable(package="spinenet_tf")
class ActivationQuantizer(keras.layers.Layer):
    """Applies `activation` (if any), then rounds to 256 steps of a range
    learned in training.

    In training, the range follows the batches: the first batch sets it,
    later ones move it by `1 - momentum` towards theirs. It always
    contains 0 (so that zero is exact, as TFLite requires) and is at least
    `MIN_RANGE` wide. Before any
    training batch it passes its input through unchanged.

    Args:
        activation: a Keras activation name applied first, or None.
        momentum: of the moving average of the range.
        **kwargs: `keras.layers.Layer` arguments.
    """

    def __init__(self, activation=None, momentum=0.99, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"`momentum` must be in [0, 1); received {momentum!r}.")
        self.activation = activation
        self.activation_fn = keras.activations.get(activation)
        self.momentum = momentum

    def build(self, input_shape):
        def scalar(name, value):
            return self.add_weight(name=name, shape=(), trainable=False,
                                   initializer=keras.initializers.Constant(value),
                                   aggregation="mean", dtype="float32")

        self.range_min = scalar("range_min", 0.0)
        self.range_max = scalar("range_max", 0.0)
        self.initialized = scalar("initialized", 0.0)

    def call(self, inputs, training=None):
        if self.activation is not None:
            inputs = self.activation_fn(inputs)
        values = ops.cast(inputs, "float32")
        if training:
            batch_min = ops.minimum(ops.min(values), 0.0)
            batch_max = ops.maximum(ops.max(values), 0.0)
            # The first batch sets the range, later ones average into it.
            keep = self.momentum * self.initialized
            self.range_min.assign(keep * self.range_min + (1.0 - keep) * batch_min)
            self.range_max.assign(keep * self.range_max + (1.0 - keep) * batch_max)
            self.initialized.assign(1.0)
        low = ops.minimum(self.range_min, 0.0)
        high = ops.maximum(self.range_max, low + MIN_RANGE)
        quantized = keras.quantizers.fake_quant_with_min_max_vars(values, low, high,
                                                                  num_bits=8)
        outputs = ops.where(self.initialized > 0.0, quantized, values)
        return ops.cast(outputs, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(activation=self.activation, momentum=self.momentum)
        return config
