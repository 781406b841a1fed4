"""Squeeze-and-excitation channel gating."""

import keras

from spinenet_tf.layers.conv_norm_layer import ConvNormLayer


@keras.saving.register_keras_serializable(package="spinenet_tf")
class SqueezeExcitation(ConvNormLayer):
    """Global-average-pool, reduce, expand, gate (Hu et al. 2018).

    The reduced width is `max(1, int(reduction_base_filters * se_ratio))`:
    in SpineNet-Mobile the base is the *block input* width, not the expanded
    width, as in the reference. Gating is a hard sigmoid there.

    Args:
        filters: channels of the gated tensor.
        reduction_base_filters: width the ratio applies to.
        se_ratio: squeeze ratio in (0, 1].
        inner_activation: activation after the reduce conv.
        gating_activation: activation producing the gate.
    """

    def __init__(
        self,
        filters,
        reduction_base_filters,
        se_ratio=0.2,
        inner_activation="relu",
        gating_activation="hard_sigmoid",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not 0.0 < se_ratio <= 1.0:
            raise ValueError(f"`se_ratio` must be in (0, 1]; received {se_ratio!r}.")
        self.filters = filters
        self.reduction_base_filters = reduction_base_filters
        self.se_ratio = se_ratio
        self.inner_activation = inner_activation
        self.gating_activation = gating_activation
        reduced = max(1, int(reduction_base_filters * se_ratio))
        self.reduce_conv = self.conv(reduced, 1, name="reduce_conv", use_bias=True)
        self.inner_act = self.activation_layer("inner_activation", inner_activation)
        self.expand_conv = self.conv(filters, 1, name="expand_conv", use_bias=True)
        self.gate = self.activation_layer("gate", gating_activation)

    def call(self, inputs):
        x = keras.ops.mean(inputs, axis=(1, 2), keepdims=True)
        x = self.inner_act(self.reduce_conv(x))
        x = self.gate(self.expand_conv(x))
        return inputs * x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "reduction_base_filters": self.reduction_base_filters,
                "se_ratio": self.se_ratio,
                "inner_activation": self.inner_activation,
                "gating_activation": self.gating_activation,
            }
        )
        return config
