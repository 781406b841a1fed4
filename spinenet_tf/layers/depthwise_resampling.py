"""SpineNet-Mobile's cross-scale connection: depthwise resample, project."""

import keras

from spinenet_tf.layers.resampling import Resampling

# The reference's downsampling depthwise kernels start from Keras' default
# initializer: Model Garden passes its initializer as `kernel_initializer`,
# which DepthwiseConv2D does not read (it reads `depthwise_initializer`), and
# the TPU model zoo's code passes none. Glorot uniform draws them with about
# 1.4x the spread of the fan-in truncated normal the other kernels get.
DOWNSAMPLE_INITIALIZER = "glorot_uniform"


@keras.saving.register_keras_serializable(package="spinenet_tf")
class DepthwiseResampling(Resampling):
    """Resamples a parent map of SpineNet-Mobile to a target level and width.

    To go coarser, one depthwise 3x3 stride-2 conv -> BN -> act per level
    (kernels initialized as the reference's, `DOWNSAMPLE_INITIALIZER`);
    to go finer, nearest-neighbour upsampling; then the 1x1 projection of
    `Resampling`. There is no alpha narrowing in the mobile model.

    Args:
        output_filters: width of the target block's input.
        level_change: target level minus parent level.
        **kwargs: `ConvNormLayer` and `keras.layers.Layer` arguments.
    """

    def build_downsampling(self):
        self.downsample_layers = [
            (
                self.depthwise_conv(3, 2, f"downsample{i + 1}_depthwise",
                                    initializer=DOWNSAMPLE_INITIALIZER),
                self.batch_norm(f"downsample{i + 1}_bn"),
                self.activation_layer(f"downsample{i + 1}_act"),
            )
            for i in range(max(self.level_change, 0))
        ]

    def downsample(self, inputs, training=None):
        x = inputs
        for depthwise, bn, act in self.downsample_layers:
            x = act(bn(depthwise(x), training=training))
        return x
