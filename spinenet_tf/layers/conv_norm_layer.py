"""Shared conv / batch-norm construction for SpineNet's layers and models."""

import keras

from spinenet_tf.layers.batch_normalization import BatchNormalization
from spinenet_tf.layers.fake_quantization import (
    ActivationQuantizer, QuantizedConv2D, QuantizedDepthwiseConv2D)

ACTIVATIONS = ("relu", "swish", "hard_swish")


def check_activation(activation, allowed=ACTIVATIONS):
    """Returns `activation` if it is one of `allowed`, else raises."""
    if activation not in allowed:
        raise ValueError(
            f"`activation` must be one of {list(allowed)}; "
            f"received {activation!r}."
        )
    return activation


class ConvNormFactory:
    """Makes convs, batch norms and activations that follow one setting.

    Used by every composite layer and by the backbone builders, so stem,
    blocks, resampling and endpoints agree on initializer, regularizer and
    batch-norm settings.

    Args:
        activation: "relu", "swish" or "hard_swish".
        kernel_initializer: initializer for convolution kernels (the
            reference uses "VarianceScaling": fan-in, truncated normal).
        kernel_regularizer: regularizer for (non-depthwise) kernels.
        use_sync_bn: synchronise batch statistics across replicas.
        norm_momentum: batch-norm moving-average momentum.
        norm_epsilon: batch-norm epsilon.
        fold_batch_norm: make the inference form: every conv gets a bias
            and every batch norm is an identity, so that the batch norm's
            affine map can live in the conv before it (see
            `spinenet_tf.inference_model`, which computes those weights).
        quantization_aware: with `fold_batch_norm`, the form trained for
            int8 (`spinenet_tf.quantization_aware_model`): kernels
            fake-quantized per channel, and the conv outputs (where the
            batch norms were) and activations fake-quantized to ranges
            learned in training (`spinenet_tf.layers.fake_quantization`).
        dtype: dtype policy for the layers made.

    A batch norm normalises the output of the conv made just before it by
    the same factory; `batch_norm_pairs` lists those (conv, batch norm)
    pairs, which is what folding needs.
    """

    def __init__(
        self,
        activation="relu",
        kernel_initializer="VarianceScaling",
        kernel_regularizer=None,
        use_sync_bn=False,
        norm_momentum=0.99,
        norm_epsilon=1e-3,
        fold_batch_norm=False,
        quantization_aware=False,
        dtype=None,
    ):
        if quantization_aware and not fold_batch_norm:
            raise ValueError(
                "quantization_aware=True needs fold_batch_norm=True (training "
                "runs on what the TFLite converter quantizes: convs with batch "
                "norm folded in); received fold_batch_norm=False.")
        self.activation = check_activation(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.use_sync_bn = use_sync_bn
        self.norm_momentum = norm_momentum
        self.norm_epsilon = norm_epsilon
        self.fold_batch_norm = bool(fold_batch_norm)
        self.quantization_aware = bool(quantization_aware)
        self.dtype = dtype
        self.batch_norm_pairs = []
        self._last_conv = None

    def initializer(self):
        """A fresh initializer per kernel, so no two kernels share a seed."""
        return keras.initializers.get(
            keras.initializers.serialize(self.kernel_initializer)
        )

    def conv(self, filters, kernel_size, strides=1, name=None, use_bias=False):
        conv_class = QuantizedConv2D if self.quantization_aware else keras.layers.Conv2D
        self._last_conv = conv_class(
            filters,
            kernel_size,
            strides=strides,
            padding="same",
            use_bias=use_bias or self.fold_batch_norm,
            kernel_initializer=self.initializer(),
            kernel_regularizer=self.kernel_regularizer,
            dtype=self.dtype,
            name=name,
        )
        return self._last_conv

    def depthwise_conv(self, kernel_size=3, strides=1, name=None):
        # Depthwise kernels are not regularized, as in the reference.
        conv_class = (QuantizedDepthwiseConv2D if self.quantization_aware
                      else keras.layers.DepthwiseConv2D)
        self._last_conv = conv_class(
            kernel_size,
            strides=strides,
            padding="same",
            use_bias=self.fold_batch_norm,
            depthwise_initializer=self.initializer(),
            dtype=self.dtype,
            name=name,
        )
        return self._last_conv

    def batch_norm(self, name=None):
        """Batch norm of the last conv made (an identity when folded)."""
        if self._last_conv is None:
            raise ValueError(
                f"batch_norm({name!r}) has no conv before it to normalise; "
                "make the conv with the same factory first.")
        conv, self._last_conv = self._last_conv, None
        if self.quantization_aware:
            return ActivationQuantizer(dtype=self.dtype, name=name)
        if self.fold_batch_norm:
            return keras.layers.Identity(dtype=self.dtype, name=name)
        norm = BatchNormalization(
            momentum=self.norm_momentum,
            epsilon=self.norm_epsilon,
            synchronized=self.use_sync_bn,
            dtype=self.dtype,
            name=name,
        )
        self.batch_norm_pairs.append((conv, norm))
        return norm

    def activation_layer(self, name=None, activation=None):
        if self.quantization_aware:
            return ActivationQuantizer(activation=activation or self.activation,
                                       dtype=self.dtype, name=name)
        return keras.layers.Activation(
            activation or self.activation, dtype=self.dtype, name=name
        )

    def layer_kwargs(self):
        """Arguments that make a `ConvNormLayer` follow this factory."""
        return {
            "activation": self.activation,
            "kernel_initializer": self.initializer(),
            "kernel_regularizer": self.kernel_regularizer,
            "use_sync_bn": self.use_sync_bn,
            "norm_momentum": self.norm_momentum,
            "norm_epsilon": self.norm_epsilon,
            "fold_batch_norm": self.fold_batch_norm,
            "quantization_aware": self.quantization_aware,
            "dtype": self.dtype,
        }

    def get_config(self):
        return {
            "activation": self.activation,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer
            ),
            "kernel_regularizer": keras.regularizers.serialize(
                self.kernel_regularizer
            ),
            "use_sync_bn": self.use_sync_bn,
            "norm_momentum": self.norm_momentum,
            "norm_epsilon": self.norm_epsilon,
            "fold_batch_norm": self.fold_batch_norm,
            "quantization_aware": self.quantization_aware,
        }


class ConvNormLayer(keras.layers.Layer):
    """Base of the composite conv + batch-norm layers (blocks, resampling).

    Subclasses build their sublayers with `conv`, `depthwise_conv`,
    `batch_norm` and `activation_layer`; `get_config` lists the shared
    arguments once.

    Args: as `ConvNormFactory`, plus `keras.layers.Layer` arguments.
    """

    def __init__(
        self,
        activation="relu",
        kernel_initializer="VarianceScaling",
        kernel_regularizer=None,
        use_sync_bn=False,
        norm_momentum=0.99,
        norm_epsilon=1e-3,
        fold_batch_norm=False,
        quantization_aware=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.factory = ConvNormFactory(
            activation,
            kernel_initializer,
            kernel_regularizer,
            use_sync_bn,
            norm_momentum,
            norm_epsilon,
            fold_batch_norm=fold_batch_norm,
            quantization_aware=quantization_aware,
            dtype=self.dtype_policy,
        )
        self.activation = self.factory.activation
        self.kernel_regularizer = self.factory.kernel_regularizer
        self.conv = self.factory.conv
        self.depthwise_conv = self.factory.depthwise_conv
        self.batch_norm = self.factory.batch_norm
        self.activation_layer = self.factory.activation_layer

    def get_config(self):
        config = super().get_config()
        config.update(self.factory.get_config())
        return config
