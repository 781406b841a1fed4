"""The Mask R-CNN mask head: a mask logit map for each ROI's class."""

import keras
from keras import ops

from spinenet_tf.rcnn.head_building import (
    batch_norm,
    check_non_negative,
    check_positive,
    conv_tower,
    he_fan_out,
    norm_activation_config,
    roi_conv,
    roi_features_shape,
    set_norm_activation,
)


@keras.saving.register_keras_serializable(package="spinenet_tf")
class MaskHead(keras.layers.Layer):
    """The second stage's mask branch, as tf-models-official's `MaskHead`
    builds it.

    Each ROI's [h, w, C] features go through `num_convs` 3x3 convolutions
    (batch norm and activation after each), a transposed convolution that
    upsamples by `upsample_factor` (batch norm, activation), and a 1x1
    predictor of one mask logit map per class (or one with
    `class_agnostic`); the map of each ROI's class is returned. Every
    kernel He normal over fan-out, zero biases, as the reference.

    Call it on `(roi_features [B, R, h, w, C], roi_classes [B, R])`; it
    returns mask logits [B, R, h * upsample_factor, w * upsample_factor]
    in float32 (14x14 features give the reference's 28x28 masks).

    Args:
        num_classes: classes including background (91 for COCO).
        upsample_factor: the transposed convolution's kernel and stride (2).
        num_convs, num_filters: the conv tower (4 x 256).
        use_separable_conv: separable instead of regular 3x3 and 1x1 convs.
        class_agnostic: one mask per ROI whatever its class.
        activation, use_sync_bn, norm_momentum, norm_epsilon: as the backbone.
        kernel_regularizer, bias_regularizer: on every layer.
    """

    def __init__(self, num_classes=91, upsample_factor=2, num_convs=4, num_filters=256,
                 use_separable_conv=False, class_agnostic=False, activation="relu",
                 use_sync_bn=False, norm_momentum=0.99, norm_epsilon=1e-3,
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        check_positive(num_classes=num_classes, upsample_factor=upsample_factor,
                       num_filters=num_filters)
        check_non_negative(num_convs=num_convs)
        self.num_classes = int(num_classes)
        self.upsample_factor = int(upsample_factor)
        self.num_convs, self.num_filters = int(num_convs), int(num_filters)
        self.use_separable_conv = bool(use_separable_conv)
        self.class_agnostic = bool(class_agnostic)
        set_norm_activation(self, activation, use_sync_bn, norm_momentum, norm_epsilon,
                            kernel_regularizer, bias_regularizer)
        self.convs, self.conv_norms = conv_tower(self, "mask")
        self.upsample = keras.layers.Conv2DTranspose(
            self.num_filters, self.upsample_factor, strides=self.upsample_factor,
            padding="valid", kernel_initializer=he_fan_out(), bias_initializer="zeros",
            kernel_regularizer=self.kernel_regularizer, bias_regularizer=self.bias_regularizer,
            dtype=self.dtype_policy, name="mask_upsample")
        self.upsample_norm = batch_norm(self, "mask_upsample_bn")
        self.mask_predictor = roi_conv(
            1 if self.class_agnostic else self.num_classes, 1, self.use_separable_conv,
            self.kernel_regularizer, self.bias_regularizer, self.dtype_policy,
            "mask_logits")

    def build(self, input_shape):
        features_shape = input_shape[0]
        _, height, width, channels = roi_features_shape("MaskHead", features_shape)
        shape = (None, height, width, channels)
        for conv, norm in zip(self.convs, self.conv_norms):
            conv.build(shape)
            shape = (None, height, width, self.num_filters)
            norm.build(shape)
        self.upsample.build(shape)
        shape = (None, height * self.upsample_factor, width * self.upsample_factor,
                 self.num_filters)
        self.upsample_norm.build(shape)
        self.mask_predictor.build(shape)

    def call(self, inputs, training=None):
        roi_features, roi_classes = inputs
        _, rois, height, width, channels = roi_features.shape
        rois = ops.shape(roi_features)[1] if rois is None else rois
        x = ops.reshape(roi_features, (-1, height, width, channels))
        for conv, norm in zip(self.convs, self.conv_norms):
            x = self.activation_fn(norm(conv(x), training=training))
        x = self.activation_fn(self.upsample_norm(self.upsample(x), training=training))
        logits = self.mask_predictor(x)
        mask_height, mask_width = height * self.upsample_factor, width * self.upsample_factor
        if self.class_agnostic:
            return ops.cast(ops.reshape(logits, (-1, rois, mask_height, mask_width)), "float32")
        # Each ROI's class map, picked by a product with its one-hot class
        # (exact: one term is the logit, the others are zeros). Picked before
        # the cast to float32, and as a matrix product rather than a gather:
        # its gradient is another product, where a gather's is a scatter
        # into the whole [ROIs, h, w, classes] tensor (a training step spent
        # a tenth of its time there in bfloat16).
        logits = ops.reshape(logits, (-1, rois, mask_height, mask_width, self.num_classes))
        one_hot = ops.one_hot(ops.cast(roi_classes, "int32"), self.num_classes,
                              dtype=logits.dtype)
        return ops.cast(ops.einsum("bnhwc,bnc->bnhw", logits, one_hot), "float32")

    def compute_output_shape(self, input_shape):
        batch, rois, height, width, _ = input_shape[0]
        return (batch, rois, height * self.upsample_factor, width * self.upsample_factor)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes, upsample_factor=self.upsample_factor,
            num_convs=self.num_convs, num_filters=self.num_filters,
            use_separable_conv=self.use_separable_conv, class_agnostic=self.class_agnostic,
            **norm_activation_config(self))
        return config
