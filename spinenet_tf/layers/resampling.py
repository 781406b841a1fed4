"""What the cross-scale connections share: go coarser, go finer, project."""

import keras

from spinenet_tf.layers.conv_norm_layer import ConvNormLayer


class Resampling(ConvNormLayer):
    """Base of `CrossScaleResampling` (SpineNet) and `DepthwiseResampling`
    (SpineNet-Mobile).

    `project(upsample(downsample(x)))`: the subclass's `downsample` narrows
    the parent and takes it `level_change` levels coarser (it is called for
    every `level_change`); finer targets are reached with nearest-neighbour
    upsampling by `2**-level_change`; a 1x1 conv to `output_filters` + BN
    (no activation: the sum of the parents is activated after fusion)
    ends the connection. Subclasses build their layers in
    `build_downsampling`, which runs before the upsampling and projection
    layers are made.

    Args:
        output_filters: width of the target block's input.
        level_change: target level minus parent level.
        **kwargs: `ConvNormLayer` and `keras.layers.Layer` arguments.
    """

    def __init__(self, output_filters, level_change, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(level_change, int) or isinstance(level_change, bool):
            raise ValueError(
                f"`level_change` must be an integer; received {level_change!r}.")
        self.output_filters = output_filters
        self.level_change = level_change
        self.build_downsampling()
        self.upsample = None
        if level_change < 0:
            self.upsample = keras.layers.UpSampling2D(
                2 ** (-level_change), interpolation="nearest",
                dtype=self.dtype_policy, name="upsample",
            )
        self.project_conv = self.conv(output_filters, 1, 1, "project_conv")
        self.project_bn = self.batch_norm("project_bn")

    def build_downsampling(self):
        raise NotImplementedError

    def downsample(self, inputs, training=None):
        raise NotImplementedError

    def call(self, inputs, training=None):
        x = self.downsample(inputs, training=training)
        if self.upsample is not None:
            x = self.upsample(x)
        return self.project_bn(self.project_conv(x), training=training)

    def get_config(self):
        config = super().get_config()
        config.update({"output_filters": self.output_filters,
                       "level_change": self.level_change})
        return config
