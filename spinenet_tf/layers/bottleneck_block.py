"""ResNet bottleneck block (output width 4x filters)."""

import keras

from spinenet_tf.layers.resnet_block import ResNetBlock


@keras.saving.register_keras_serializable(package="spinenet_tf")
class BottleneckBlock(ResNetBlock):
    """1x1 -> BN -> act -> 3x3 -> BN -> act -> 1x1 (4f) -> BN -> [drop] -> + -> act.

    The stride sits on the 3x3 conv. Args: see `ResNetBlock`; the block
    outputs `4 * filters` channels.
    """

    expansion = 4

    def build_branch(self):
        self.conv1 = self.conv(self.filters, 1, 1, "conv1")
        self.bn1 = self.batch_norm("bn1")
        self.act1 = self.activation_layer("act1")
        self.conv2 = self.conv(self.filters, 3, self.strides, "conv2")
        self.bn2 = self.batch_norm("bn2")
        self.act2 = self.activation_layer("act2")
        self.conv3 = self.conv(4 * self.filters, 1, 1, "conv3")
        self.bn3 = self.batch_norm("bn3")

    def branch(self, inputs, training=None):
        x = self.act1(self.bn1(self.conv1(inputs), training=training))
        x = self.act2(self.bn2(self.conv2(x), training=training))
        return self.bn3(self.conv3(x), training=training)
