"""SpineNet's cross-scale connection: narrow, resample, project."""

import keras

from spinenet_tf.layers.resampling import Resampling

DOWNSAMPLINGS = ("chained_pools", "single_pool")


@keras.saving.register_keras_serializable(package="spinenet_tf")
class CrossScaleResampling(Resampling):
    """Resamples a parent feature map to a target block's level and width.

    1x1 conv to `filters` (the parent width times alpha) -> BN -> act; then,
    to go `level_change` levels coarser, a 3x3 stride-2 conv -> BN -> act and
    max-pooling for the further levels, or, to go finer, nearest-neighbour
    upsampling; then the 1x1 projection of `Resampling`.

    The max-pooling after the strided conv is, with `downsampling`:
    "chained_pools" (Model Garden): a 3x3 stride-2 pool for every further
    level; "single_pool" (the TPU model zoo): one pool of stride
    `2**(level_change - 1)`, size 3 for two levels down and 5 for more.

    Args:
        filters: width after the alpha narrowing.
        output_filters: width of the target block's input.
        level_change: target level minus parent level.
        downsampling: "chained_pools" or "single_pool".
        **kwargs: `ConvNormLayer` and `keras.layers.Layer` arguments.
    """

    def __init__(self, filters, output_filters, level_change,
                 downsampling="chained_pools", **kwargs):
        if downsampling not in DOWNSAMPLINGS:
            raise ValueError(
                f"`downsampling` must be one of {list(DOWNSAMPLINGS)}; "
                f"received {downsampling!r}.")
        self.filters = filters
        self.downsampling = downsampling
        super().__init__(output_filters, level_change, **kwargs)

    def build_downsampling(self):
        self.reduce_conv = self.conv(self.filters, 1, 1, "reduce_conv")
        self.reduce_bn = self.batch_norm("reduce_bn")
        self.reduce_act = self.activation_layer("reduce_act")
        if self.level_change > 0:
            self.downsample_conv = self.conv(self.filters, 3, 2, "downsample_conv")
            self.downsample_bn = self.batch_norm("downsample_bn")
            self.downsample_act = self.activation_layer("downsample_act")
        if self.downsampling == "single_pool" and self.level_change > 1:
            size = 3 if self.level_change == 2 else 5
            self.pools = [keras.layers.MaxPooling2D(
                size, 2 ** (self.level_change - 1), padding="same",
                dtype=self.dtype_policy, name="downsample_pool")]
        else:
            self.pools = [
                keras.layers.MaxPooling2D(3, 2, padding="same", dtype=self.dtype_policy,
                                          name=f"downsample_pool{i + 1}")
                for i in range(self.level_change - 1)
            ]

    def downsample(self, inputs, training=None):
        x = self.reduce_act(self.reduce_bn(self.reduce_conv(inputs), training=training))
        if self.level_change > 0:
            x = self.downsample_act(self.downsample_bn(
                self.downsample_conv(x), training=training))
        for pool in self.pools:
            x = pool(x)
        return x

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "downsampling": self.downsampling})
        return config
