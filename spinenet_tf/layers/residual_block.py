"""ResNet basic (residual) block."""

import keras

from spinenet_tf.layers.conv_norm_layer import ConvNormLayer
from spinenet_tf.layers.stochastic_depth import StochasticDepth


@keras.saving.register_keras_serializable(package="spinenet_tf")
class ResidualBlock(ConvNormLayer):
    """3x3 conv -> BN -> act -> 3x3 conv -> BN -> [drop] -> + shortcut -> act.

    The shortcut is a 1x1 conv + BN when `use_projection` (the input width or
    stride differs from the output), otherwise the identity.

    Args:
        filters: output channels.
        strides: stride of the first 3x3 conv and of the projection.
        use_projection: project the shortcut.
        stochastic_depth_rate: drop rate of the residual branch (0 = off).
        **kwargs: `ConvNormLayer` and `keras.layers.Layer` arguments.
    """

    expansion = 1

    def __init__(
        self,
        filters,
        strides=1,
        use_projection=False,
        stochastic_depth_rate=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = filters
        self.strides = strides
        self.use_projection = use_projection
        self.stochastic_depth_rate = stochastic_depth_rate
        if use_projection:
            self.shortcut_conv = self.conv(filters, 1, strides, "shortcut_conv")
            self.shortcut_bn = self.batch_norm("shortcut_bn")
        self.conv1 = self.conv(filters, 3, strides, "conv1")
        self.bn1 = self.batch_norm("bn1")
        self.act1 = self.activation_layer("act1")
        self.conv2 = self.conv(filters, 3, 1, "conv2")
        self.bn2 = self.batch_norm("bn2")
        self.drop = (
            StochasticDepth(stochastic_depth_rate, name="stochastic_depth")
            if stochastic_depth_rate
            else None
        )
        self.act_out = self.activation_layer("act_out")

    def call(self, inputs, training=None):
        shortcut = inputs
        if self.use_projection:
            shortcut = self.shortcut_bn(self.shortcut_conv(inputs), training=training)
        x = self.act1(self.bn1(self.conv1(inputs), training=training))
        x = self.bn2(self.conv2(x), training=training)
        if self.drop is not None:
            x = self.drop(x, training=training)
        return self.act_out(x + shortcut)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "strides": self.strides,
                "use_projection": self.use_projection,
                "stochastic_depth_rate": self.stochastic_depth_rate,
            }
        )
        return config
