"""The convolutions and batch norms the Mask R-CNN heads are built from,
initialised as tf-models-official initialises its instance heads."""

import keras

from spinenet_tf.layers.batch_normalization import BatchNormalization
from spinenet_tf.layers.conv_norm_layer import check_activation


def he_fan_out():
    """The instance heads' conv initializer: He normal over fan-out,
    untruncated (Model Garden's `VarianceScaling(2, "fan_out",
    "untruncated_normal")`)."""
    return keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_out", distribution="untruncated_normal")


def roi_conv(filters, kernel_size, use_separable_conv, kernel_regularizer,
             bias_regularizer, dtype, name):
    """A conv of the box or mask head: He fan-out init (depthwise and
    pointwise for separable convs), zero bias, the kernel regularizer on
    every kernel."""
    common = dict(padding="same" if kernel_size > 1 else "valid",
                  bias_initializer="zeros", bias_regularizer=bias_regularizer,
                  dtype=dtype, name=name)
    if use_separable_conv:
        return keras.layers.SeparableConv2D(
            filters, kernel_size, depthwise_initializer=he_fan_out(),
            pointwise_initializer=he_fan_out(), depthwise_regularizer=kernel_regularizer,
            pointwise_regularizer=kernel_regularizer, **common)
    return keras.layers.Conv2D(filters, kernel_size, kernel_initializer=he_fan_out(),
                               kernel_regularizer=kernel_regularizer, **common)


def conv_tower(head, prefix):
    """(convs, batch norms) of a box or mask head's `num_convs` x
    `num_filters` 3x3 tower."""
    convs = [roi_conv(head.num_filters, 3, head.use_separable_conv, head.kernel_regularizer,
                      head.bias_regularizer, head.dtype_policy, f"{prefix}_conv{i}")
             for i in range(head.num_convs)]
    return convs, [batch_norm(head, f"{prefix}_conv{i}_bn") for i in range(head.num_convs)]


def batch_norm(head, name):
    """A batch norm with the head's settings."""
    return BatchNormalization(momentum=head.norm_momentum, epsilon=head.norm_epsilon,
                              synchronized=head.use_sync_bn, dtype=head.dtype_policy,
                              name=name)


def check_positive(**values):
    """Raises naming the first argument that is not an integer >= 1."""
    for arg, value in values.items():
        if int(value) < 1:
            raise ValueError(f"`{arg}` must be >= 1; received {value}.")


def check_non_negative(**values):
    for arg, value in values.items():
        if int(value) < 0:
            raise ValueError(f"`{arg}` must be >= 0; received {value}.")


def roi_features_shape(layer_name, shape):
    """(rois, height, width, channels) of a [B, R, h, w, C] input shape,
    or an error naming the layer and what it received."""
    if len(shape) != 5 or any(d is None for d in shape[2:]):
        raise ValueError(
            f"{layer_name} takes ROI features [batch, rois, height, width, channels] "
            f"with known height, width and channels; received shape {tuple(shape)}.")
    return tuple(shape[1:])


def set_norm_activation(head, activation, use_sync_bn, norm_momentum, norm_epsilon,
                        kernel_regularizer, bias_regularizer):
    """Stores the settings every head shares (checked) on `head`."""
    head.activation = check_activation(activation)
    head.activation_fn = keras.activations.get(head.activation)
    head.use_sync_bn = bool(use_sync_bn)
    head.norm_momentum = float(norm_momentum)
    head.norm_epsilon = float(norm_epsilon)
    head.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
    head.bias_regularizer = keras.regularizers.get(bias_regularizer)


def norm_activation_config(head):
    """The shared settings as `get_config` entries."""
    return dict(activation=head.activation, use_sync_bn=head.use_sync_bn,
                norm_momentum=head.norm_momentum, norm_epsilon=head.norm_epsilon,
                kernel_regularizer=keras.regularizers.serialize(head.kernel_regularizer),
                bias_regularizer=keras.regularizers.serialize(head.bias_regularizer))
