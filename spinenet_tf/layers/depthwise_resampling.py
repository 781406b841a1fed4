"""SpineNet-Mobile's cross-scale connection: depthwise resample, project."""

import keras

from spinenet_tf.layers.conv_norm_layer import ConvNormLayer
from spinenet_tf.layers.cross_scale_resampling import check_level_change


@keras.saving.register_keras_serializable(package="spinenet_tf")
class DepthwiseResampling(ConvNormLayer):
    """Resamples a parent map of SpineNet-Mobile to a target level and width.

    To go coarser, one depthwise 3x3 stride-2 conv -> BN -> act per level;
    to go finer, nearest-neighbour upsampling by 2**-level_change; then a
    1x1 conv to `output_filters` -> BN (no activation). There is no alpha
    narrowing in the mobile model.

    Args:
        output_filters: width of the target block's input.
        level_change: target level minus parent level.
        **kwargs: `ConvNormLayer` and `keras.layers.Layer` arguments.
    """

    def __init__(self, output_filters, level_change, **kwargs):
        super().__init__(**kwargs)
        self.output_filters = output_filters
        self.level_change = check_level_change(level_change)
        self.downsample = [
            (
                self.depthwise_conv(3, 2, f"downsample{i + 1}_depthwise"),
                self.batch_norm(f"downsample{i + 1}_bn"),
                self.activation_layer(f"downsample{i + 1}_act"),
            )
            for i in range(max(level_change, 0))
        ]
        self.upsample = None
        if level_change < 0:
            self.upsample = keras.layers.UpSampling2D(
                2 ** (-level_change), interpolation="nearest",
                dtype=self.dtype_policy, name="upsample",
            )
        self.project_conv = self.conv(output_filters, 1, 1, "project_conv")
        self.project_bn = self.batch_norm("project_bn")

    def call(self, inputs, training=None):
        x = inputs
        for depthwise, bn, act in self.downsample:
            x = act(bn(depthwise(x), training=training))
        if self.upsample is not None:
            x = self.upsample(x)
        return self.project_bn(self.project_conv(x), training=training)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "output_filters": self.output_filters,
                "level_change": self.level_change,
            }
        )
        return config
