"""Keras' batch normalization, trained with TensorFlow's fused kernel."""

import keras

# Dtypes TensorFlow's CPU and GPU FusedBatchNormV3 kernels take as input.
_FUSED_INPUT_DTYPES = ("float32", "bfloat16", "float16")


@keras.saving.register_keras_serializable(package="spinenet_tf")
class BatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` whose training step uses TensorFlow's
    fused batch-norm kernel (`FusedBatchNormV3` and its gradient).

    Why: Keras 3 trains batch norm as separate moment, subtract, multiply
    and add ops, each one pass over the activations forwards and more
    backwards, plus float32 casts around every layer under a mixed policy.
    In a SpineNet training step on CPU those ops take about a quarter of
    the time (docs/benchmarks.md). The fused kernel computes the batch
    statistics and the normalisation in one pass. Under a mixed policy on a
    CPU it takes bfloat16 activations only when their channels are a
    multiple of 16: oneDNN's bfloat16 batch-norm kernels, forward and
    backward, take 0.64-0.82x the time of its float32 ones with the casts
    there, and 2.7-7x on other widths (such as SpineNet-Mobile's 8, 24 and
    40), which are therefore cast to float32 for the kernel and the result
    cast back (docs/benchmarks.md).

    The result equals Keras' layer (outputs, gradients and moving statistics
    within float rounding; tests/layers/test_batch_normalization.py): the
    kernel's Bessel-corrected batch variance is turned back into the biased
    variance Keras averages into `moving_variance`. Everything else (other
    backends, inference, `synchronized`, `renorm`, masks, inputs that are
    not 4-D channels-last, a frozen layer) runs Keras' own code, and the
    layer's config and weights are Keras' own.
    """

    def _fusable(self, inputs, training, mask):
        return (training and self.trainable and keras.backend.backend() == "tensorflow"
                and not self.synchronized and not self.renorm and mask is None
                and len(inputs.shape) == 4 and self.axis in (3, -1)
                and keras.backend.standardize_dtype(inputs.dtype) in _FUSED_INPUT_DTYPES)

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        channels = inputs.shape[-1]
        scale = (tf.cast(self.gamma, "float32") if self.scale
                 else tf.ones([channels], "float32"))
        offset = (tf.cast(self.beta, "float32") if self.center
                  else tf.zeros([channels], "float32"))
        empty = tf.constant([], "float32")
        outputs, mean, corrected_variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
            x=_kernel_input(inputs), scale=scale, offset=offset, mean=empty, variance=empty,
            epsilon=self.epsilon, exponential_avg_factor=1.0,
            data_format="NHWC", is_training=True)
        # The kernel returns the batch variance with Bessel's correction
        # n / (n - 1); Keras averages the biased one.
        count = tf.cast(tf.reduce_prod(tf.shape(inputs)[:-1]), "float32")
        variance = corrected_variance * tf.maximum(count - 1.0, 0.0) / count
        self.moving_mean.assign(
            self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(
            self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return tf.cast(outputs, self.compute_dtype)


# oneDNN's bfloat16 batch norm is fast on whole blocks of this many channels.
BFLOAT16_CHANNEL_BLOCK = 16


def _kernel_input(inputs):
    """bfloat16 activations as float32 when no GPU is present and their
    channels are not whole blocks of 16 (see the class docstring); anything
    else unchanged."""
    import tensorflow as tf

    if (inputs.dtype == tf.bfloat16 and inputs.shape[-1] % BFLOAT16_CHANNEL_BLOCK != 0
            and not tf.config.list_logical_devices("GPU")):
        return tf.cast(inputs, "float32")
    return inputs
