"""ResNet basic (residual) block."""

import keras

from spinenet_tf.layers.resnet_block import ResNetBlock


@keras.saving.register_keras_serializable(package="spinenet_tf")
class ResidualBlock(ResNetBlock):
    """3x3 conv -> BN -> act -> 3x3 conv -> BN -> [drop] -> + shortcut -> act.

    Args: see `ResNetBlock`; the block outputs `filters` channels.
    """

    expansion = 1

    def build_branch(self):
        self.conv1 = self.conv(self.filters, 3, self.strides, "conv1")
        self.bn1 = self.batch_norm("bn1")
        self.act1 = self.activation_layer("act1")
        self.conv2 = self.conv(self.filters, 3, 1, "conv2")
        self.bn2 = self.batch_norm("bn2")

    def branch(self, inputs, training=None):
        x = self.act1(self.bn1(self.conv1(inputs), training=training))
        return self.bn2(self.conv2(x), training=training)
