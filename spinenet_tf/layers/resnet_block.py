"""What the ResNet blocks share: shortcut, stochastic depth, add, activation."""

from spinenet_tf.layers.conv_norm_layer import ConvNormLayer
from spinenet_tf.layers.stochastic_depth import StochasticDepth


class ResNetBlock(ConvNormLayer):
    """Base of `ResidualBlock` and `BottleneckBlock`.

    `act(drop(branch(x)) + shortcut(x))`: the shortcut is a 1x1 conv + BN to
    `filters * expansion` channels when `use_projection` (input width or
    stride differs from the output), otherwise the identity. Subclasses set
    `expansion`, build their branch's layers in `build_branch` and apply
    them in `branch`.

    Args:
        filters: block width; the block outputs `filters * expansion`.
        strides: stride of the branch's spatial conv and of the projection.
        use_projection: project the shortcut.
        stochastic_depth_rate: drop rate of the branch (0 = off).
        **kwargs: `ConvNormLayer` and `keras.layers.Layer` arguments.
    """

    expansion = 1

    def __init__(self, filters, strides=1, use_projection=False,
                 stochastic_depth_rate=0.0, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.strides = strides
        self.use_projection = use_projection
        self.stochastic_depth_rate = stochastic_depth_rate
        if use_projection:
            self.shortcut_conv = self.conv(
                filters * self.expansion, 1, strides, "shortcut_conv")
            self.shortcut_bn = self.batch_norm("shortcut_bn")
        self.build_branch()
        self.drop = (
            StochasticDepth(stochastic_depth_rate, name="stochastic_depth")
            if stochastic_depth_rate else None
        )
        self.act_out = self.activation_layer("act_out")

    def build_branch(self):
        raise NotImplementedError

    def branch(self, inputs, training=None):
        raise NotImplementedError

    def call(self, inputs, training=None):
        shortcut = inputs
        if self.use_projection:
            shortcut = self.shortcut_bn(self.shortcut_conv(inputs), training=training)
        x = self.branch(inputs, training=training)
        if self.drop is not None:
            x = self.drop(x, training=training)
        return self.act_out(x + shortcut)

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters,
            "strides": self.strides,
            "use_projection": self.use_projection,
            "stochastic_depth_rate": self.stochastic_depth_rate,
        })
        return config
