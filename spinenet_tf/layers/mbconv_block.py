"""MBConv: inverted bottleneck with squeeze-excitation (SpineNet-Mobile)."""

import keras

from spinenet_tf.layers.conv_norm_layer import ConvNormLayer
from spinenet_tf.layers.squeeze_excitation import SqueezeExcitation
from spinenet_tf.layers.stochastic_depth import StochasticDepth


@keras.saving.register_keras_serializable(package="spinenet_tf")
class MBConvBlock(ConvNormLayer):
    """1x1 expand -> BN -> act -> dw 3x3 -> BN -> act -> SE -> 1x1 -> BN [-> + x].

    The expansion is `in_filters * expand_ratio`; the squeeze-excitation
    reduces to `max(1, int(in_filters * se_ratio))` and gates with a hard
    sigmoid (by default). When input and output shapes match (same width, stride 1) the
    input is added back, after stochastic depth; there is no activation after
    the add (a linear bottleneck, Sandler et al. 2018).

    Args:
        in_filters: input channels.
        out_filters: output channels.
        strides: stride of the depthwise conv.
        expand_ratio: expansion of the inverted bottleneck (1 = no expand conv).
        se_ratio: squeeze-excitation ratio (None or 0 = no SE).
        kernel_size: depthwise kernel size.
        stochastic_depth_rate: drop rate of the residual branch (0 = off).
        se_inner_activation, se_gating_activation: the squeeze-excitation's
            activations ("relu" and "hard_sigmoid" in Model Garden; the TPU
            model zoo uses "swish" and "sigmoid").
        **kwargs: `ConvNormLayer` and `keras.layers.Layer` arguments.
    """

    def __init__(
        self,
        in_filters,
        out_filters,
        strides=1,
        expand_ratio=6,
        se_ratio=0.2,
        kernel_size=3,
        stochastic_depth_rate=0.0,
        se_inner_activation="relu",
        se_gating_activation="hard_sigmoid",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.se_inner_activation = se_inner_activation
        self.se_gating_activation = se_gating_activation
        self.in_filters = in_filters
        self.out_filters = out_filters
        self.strides = strides
        self.expand_ratio = expand_ratio
        self.se_ratio = se_ratio
        self.kernel_size = kernel_size
        self.stochastic_depth_rate = stochastic_depth_rate
        expanded = in_filters * expand_ratio
        if expand_ratio > 1:
            self.expand_conv = self.conv(expanded, 1, 1, "expand_conv")
            self.expand_bn = self.batch_norm("expand_bn")
            self.expand_act = self.activation_layer("expand_act")
        self.depthwise = self.depthwise_conv(kernel_size, strides, "depthwise")
        self.depthwise_bn = self.batch_norm("depthwise_bn")
        self.depthwise_act = self.activation_layer("depthwise_act")
        self.squeeze_excitation = None
        if se_ratio:
            self.squeeze_excitation = SqueezeExcitation(
                filters=expanded,
                reduction_base_filters=in_filters,
                se_ratio=se_ratio,
                inner_activation=se_inner_activation,
                gating_activation=se_gating_activation,
                kernel_initializer=self.factory.initializer(),
                kernel_regularizer=self.kernel_regularizer,
                dtype=self.dtype_policy,
                name="squeeze_excitation",
            )
        self.project_conv = self.conv(out_filters, 1, 1, "project_conv")
        self.project_bn = self.batch_norm("project_bn")
        self.use_residual = in_filters == out_filters and strides == 1
        self.drop = (
            StochasticDepth(stochastic_depth_rate, name="stochastic_depth")
            if stochastic_depth_rate and self.use_residual
            else None
        )

    def call(self, inputs, training=None):
        x = inputs
        if self.expand_ratio > 1:
            x = self.expand_act(self.expand_bn(self.expand_conv(x), training=training))
        x = self.depthwise_act(self.depthwise_bn(self.depthwise(x), training=training))
        if self.squeeze_excitation is not None:
            x = self.squeeze_excitation(x)
        x = self.project_bn(self.project_conv(x), training=training)
        if self.use_residual:
            if self.drop is not None:
                x = self.drop(x, training=training)
            x = x + inputs
        return x

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "in_filters": self.in_filters,
                "out_filters": self.out_filters,
                "strides": self.strides,
                "expand_ratio": self.expand_ratio,
                "se_ratio": self.se_ratio,
                "kernel_size": self.kernel_size,
                "stochastic_depth_rate": self.stochastic_depth_rate,
                "se_inner_activation": self.se_inner_activation,
                "se_gating_activation": self.se_gating_activation,
            }
        )
        return config
