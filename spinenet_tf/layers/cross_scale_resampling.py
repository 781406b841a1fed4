"""SpineNet's cross-scale connection: narrow, resample, project."""

import keras

from spinenet_tf.layers.conv_norm_layer import ConvNormLayer


def check_level_change(level_change):
    if not isinstance(level_change, int) or isinstance(level_change, bool):
        raise ValueError(
            f"`level_change` must be an integer; received {level_change!r}."
        )
    return level_change


@keras.saving.register_keras_serializable(package="spinenet_tf")
class CrossScaleResampling(ConvNormLayer):
    """Resamples a parent feature map to a target block's level and width.

    1x1 conv to `filters` (the parent width times alpha) -> BN -> act; then,
    to go `level_change` levels coarser, a 3x3 stride-2 conv -> BN -> act and
    a 3x3 stride-2 max-pool for every further level, or, to go finer,
    nearest-neighbour upsampling by 2**-level_change; then a 1x1 conv to
    `output_filters` -> BN, with no activation (the sum of parents is
    activated after fusion).

    Args:
        filters: width after the alpha narrowing.
        output_filters: width of the target block's input.
        level_change: target level minus parent level.
        **kwargs: `ConvNormLayer` and `keras.layers.Layer` arguments.
    """

    def __init__(self, filters, output_filters, level_change, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.output_filters = output_filters
        self.level_change = check_level_change(level_change)
        self.reduce_conv = self.conv(filters, 1, 1, "reduce_conv")
        self.reduce_bn = self.batch_norm("reduce_bn")
        self.reduce_act = self.activation_layer("reduce_act")
        if level_change > 0:
            self.downsample_conv = self.conv(filters, 3, 2, "downsample_conv")
            self.downsample_bn = self.batch_norm("downsample_bn")
            self.downsample_act = self.activation_layer("downsample_act")
        self.pools = [
            keras.layers.MaxPooling2D(
                3, 2, padding="same", dtype=self.dtype_policy,
                name=f"downsample_pool{i + 1}",
            )
            for i in range(level_change - 1)
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
        x = self.reduce_act(self.reduce_bn(self.reduce_conv(inputs), training=training))
        if self.level_change > 0:
            x = self.downsample_conv(x)
            x = self.downsample_act(self.downsample_bn(x, training=training))
        for pool in self.pools:
            x = pool(x)
        if self.upsample is not None:
            x = self.upsample(x)
        return self.project_bn(self.project_conv(x), training=training)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "output_filters": self.output_filters,
                "level_change": self.level_change,
            }
        )
        return config
