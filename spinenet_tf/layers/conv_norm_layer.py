"""Shared conv / batch-norm construction for SpineNet's layers and models."""

import inspect

import keras

from spinenet_tf.layers.batch_normalization import BatchNormalization
from spinenet_tf.layers.fake_quantization import ActivationQuantizer
from spinenet_tf.layers.fixed_padding import check_conv_padding, conv_class
from spinenet_tf.layers.layer_form import FoldsBatchNorm, LayerForm, form_from_legacy_config

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
        form: a `LayerForm` or its name: "trainable" (conv, batch norm),
            "folded" (every conv gets a bias and every batch norm is an
            identity, so that the batch norm's affine map can live in the
            conv before it; `spinenet_tf.inference_model` computes those
            weights) or "quantization_aware" (folded, with kernels
            fake-quantized per channel, and the conv outputs and activations
            fake-quantized to ranges learned in training).
        conv_padding: "same" (Keras and Model Garden) or "fixed": strided
            convs pad (k - 1) // 2 before and the rest after, as the TPU
            model zoo's code does (see `fixed_padding.py`).
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
        form=None,
        conv_padding="same",
        dtype=None,
    ):
        self.form = LayerForm.get(form)
        self.conv_padding = check_conv_padding(conv_padding)
        self.activation = check_activation(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.use_sync_bn = use_sync_bn
        self.norm_momentum = norm_momentum
        self.norm_epsilon = norm_epsilon
        self.dtype = dtype
        self.batch_norm_pairs = []
        self._last_conv = None

    def initializer(self):
        """A fresh initializer per kernel, so no two kernels share a seed."""
        return keras.initializers.get(
            keras.initializers.serialize(self.kernel_initializer)
        )

    def _padding(self, strides):
        """(fixed padding?, the Keras padding) of a conv with `strides`."""
        fixed = self.conv_padding == "fixed" and strides != 1
        return fixed, "valid" if fixed else "same"

    def conv(self, filters, kernel_size, strides=1, name=None, use_bias=False):
        fixed, padding = self._padding(strides)
        layer_class = conv_class(False, self.form.fake_quantizes, fixed)
        self._last_conv = layer_class(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            use_bias=use_bias or self.form.folds_batch_norm,
            kernel_initializer=self.initializer(),
            kernel_regularizer=self.kernel_regularizer,
            dtype=self.dtype,
            name=name,
        )
        return self._last_conv

    def depthwise_conv(self, kernel_size=3, strides=1, name=None, initializer=None):
        """A depthwise conv; `initializer` (default: the factory's) for its
        kernel. Depthwise kernels are not regularized, as in the reference."""
        fixed, padding = self._padding(strides)
        layer_class = conv_class(True, self.form.fake_quantizes, fixed)
        self._last_conv = layer_class(
            kernel_size,
            strides=strides,
            padding=padding,
            use_bias=self.form.folds_batch_norm,
            depthwise_initializer=(self.initializer() if initializer is None
                                   else keras.initializers.get(initializer)),
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
        if self.form.fake_quantizes:
            return ActivationQuantizer(dtype=self.dtype, name=name)
        if self.form.folds_batch_norm:
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
        if self.form.fake_quantizes:
            return ActivationQuantizer(activation=activation or self.activation,
                                       dtype=self.dtype, name=name)
        return keras.layers.Activation(
            activation or self.activation, dtype=self.dtype, name=name
        )

    def folding_pairs(self):
        """[(conv, batch norm, path of the conv)] of the pairs made so far."""
        return [(conv, norm, conv.path) for conv, norm in self.batch_norm_pairs]

    def layer_kwargs(self):
        """Arguments that make a `ConvNormLayer` follow this factory."""
        return {
            "activation": self.activation,
            "kernel_initializer": self.initializer(),
            "kernel_regularizer": self.kernel_regularizer,
            "use_sync_bn": self.use_sync_bn,
            "norm_momentum": self.norm_momentum,
            "norm_epsilon": self.norm_epsilon,
            "form": self.form,
            "conv_padding": self.conv_padding,
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
            "form": self.form.name,
            "conv_padding": self.conv_padding,
        }


# The settings a `ConvNormLayer` hands to its factory (its own dtype policy
# goes as `dtype`).
FACTORY_ARGUMENTS = tuple(name for name in inspect.signature(ConvNormFactory).parameters
                          if name != "dtype")


class ConvNormLayer(FoldsBatchNorm, keras.layers.Layer):
    """Base of the composite conv + batch-norm layers (blocks, resampling).

    Subclasses build their sublayers with `conv`, `depthwise_conv`,
    `batch_norm` and `activation_layer`; `get_config` lists the shared
    arguments once.

    Args: `ConvNormFactory`'s (defaults there, in one place; its `dtype`
    is this layer's dtype policy), plus `keras.layers.Layer` arguments.
    """

    def __init__(self, **kwargs):
        factory_arguments = {name: kwargs.pop(name) for name in FACTORY_ARGUMENTS
                             if name in kwargs}
        super().__init__(**kwargs)
        self.factory = ConvNormFactory(**factory_arguments, dtype=self.dtype_policy)
        self.activation = self.factory.activation
        self.kernel_regularizer = self.factory.kernel_regularizer
        self.conv = self.factory.conv
        self.depthwise_conv = self.factory.depthwise_conv
        self.batch_norm = self.factory.batch_norm
        self.activation_layer = self.factory.activation_layer

    def build(self, input_shape):
        """Builds the sublayers by running `call` on a symbolic input.

        Each sublayer builds from its input shape and passes on its output
        shape, so no TensorFlow graph is traced: Keras' default build of a
        layer that has sublayers traces `call` in a scratch graph, about a
        third of the time a SpineNet took to construct (docs/benchmarks.md).
        """
        self.call(keras.KerasTensor(input_shape, dtype=self.compute_dtype))

    def compute_output_shape(self, input_shape):
        return self.call(keras.KerasTensor(input_shape, dtype=self.compute_dtype)).shape

    def batch_norm_pairs(self):
        return self.factory.folding_pairs()

    def get_config(self):
        config = super().get_config()
        config.update(self.factory.get_config())
        return config

    @classmethod
    def from_config(cls, config):
        return super().from_config(form_from_legacy_config(config))
