"""The Mask R-CNN box head: class logits and box codes of each ROI."""

import keras
from keras import ops

from spinenet_tf.rcnn.head_building import (
    batch_norm,
    check_non_negative,
    check_positive,
    conv_tower,
    norm_activation_config,
    roi_features_shape,
    set_norm_activation,
)


@keras.saving.register_keras_serializable(package="spinenet_tf")
class BoxHead(keras.layers.Layer):
    """The second stage's box branch, as tf-models-official's
    `DetectionHead` builds it.

    Each ROI's [h, w, C] features go through `num_convs` 3x3 convolutions
    (batch norm and activation after each), are flattened (row by row,
    channels last) and go through `num_fcs` fully connected layers of
    `fc_dims` (batch norm and activation after each); then a class
    predictor (`num_classes` logits, background in slot 0) and a box
    predictor (4 codes per class, or 4 with `class_agnostic_boxes`).
    Initialisation as the reference: convs He normal over fan-out, fully
    connected layers VarianceScaling(1/3, fan-out, uniform), predictors
    N(0, 0.01) (classes) and N(0, 0.001) (boxes), zero biases.

    Call it on ROI features [B, R, h, w, C]; it returns `(class_logits
    [B, R, num_classes], box_deltas [B, R, 4 * num_classes])` in float32.

    Args:
        num_classes: classes including background (91 for COCO).
        num_convs, num_filters: the conv tower (4 x 256 in the SpineNet
            recipe).
        use_separable_conv: separable instead of regular convolutions.
        num_fcs, fc_dims: the fully connected layers (1 x 1024).
        class_agnostic_boxes: one box per ROI instead of one per class.
        activation, use_sync_bn, norm_momentum, norm_epsilon: as the backbone.
        kernel_regularizer, bias_regularizer: on every layer.
    """

    def __init__(self, num_classes=91, num_convs=4, num_filters=256,
                 use_separable_conv=False, num_fcs=1, fc_dims=1024,
                 class_agnostic_boxes=False, activation="relu", use_sync_bn=False,
                 norm_momentum=0.99, norm_epsilon=1e-3, kernel_regularizer=None,
                 bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        check_positive(num_classes=num_classes, num_filters=num_filters, fc_dims=fc_dims)
        check_non_negative(num_convs=num_convs, num_fcs=num_fcs)
        self.num_classes = int(num_classes)
        self.num_convs, self.num_filters = int(num_convs), int(num_filters)
        self.use_separable_conv = bool(use_separable_conv)
        self.num_fcs, self.fc_dims = int(num_fcs), int(fc_dims)
        self.class_agnostic_boxes = bool(class_agnostic_boxes)
        set_norm_activation(self, activation, use_sync_bn, norm_momentum, norm_epsilon,
                            kernel_regularizer, bias_regularizer)
        self.convs, self.conv_norms = conv_tower(self, "box")
        self.fcs = [self._dense(self.fc_dims, keras.initializers.VarianceScaling(
            scale=1 / 3, mode="fan_out", distribution="uniform"), f"box_fc{i}")
            for i in range(self.num_fcs)]
        self.fc_norms = [batch_norm(self, f"box_fc{i}_bn") for i in range(self.num_fcs)]
        self.class_predictor = self._dense(
            self.num_classes, keras.initializers.RandomNormal(stddev=0.01), "box_class_logits")
        self.box_predictor = self._dense(
            4 if self.class_agnostic_boxes else 4 * self.num_classes,
            keras.initializers.RandomNormal(stddev=0.001), "box_deltas")

    def _dense(self, units, initializer, name):
        return keras.layers.Dense(
            units, kernel_initializer=initializer, bias_initializer="zeros",
            kernel_regularizer=self.kernel_regularizer,
            bias_regularizer=self.bias_regularizer, dtype=self.dtype_policy, name=name)

    def build(self, input_shape):
        rois, height, width, channels = roi_features_shape("BoxHead", input_shape)
        shape = (None, height, width, channels)
        for conv, norm in zip(self.convs, self.conv_norms):
            conv.build(shape)
            shape = (None, height, width, self.num_filters)
            norm.build(shape)
        shape = (None, rois, height * width * shape[-1])
        for fc, norm in zip(self.fcs, self.fc_norms):
            fc.build(shape)
            shape = (None, rois, self.fc_dims)
            norm.build(shape)
        self.class_predictor.build(shape)
        self.box_predictor.build(shape)

    def call(self, roi_features, training=None):
        _, rois, height, width, channels = roi_features.shape
        rois = ops.shape(roi_features)[1] if rois is None else rois
        x = ops.reshape(roi_features, (-1, height, width, channels))
        for conv, norm in zip(self.convs, self.conv_norms):
            x = self.activation_fn(norm(conv(x), training=training))
        x = ops.reshape(x, (-1, rois, height * width * x.shape[-1]))
        for fc, norm in zip(self.fcs, self.fc_norms):
            x = self.activation_fn(norm(fc(x), training=training))
        return (ops.cast(self.class_predictor(x), "float32"),
                ops.cast(self.box_predictor(x), "float32"))

    def compute_output_shape(self, input_shape):
        batch, rois = input_shape[0], input_shape[1]
        boxes = 4 if self.class_agnostic_boxes else 4 * self.num_classes
        return (batch, rois, self.num_classes), (batch, rois, boxes)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes, num_convs=self.num_convs,
            num_filters=self.num_filters, use_separable_conv=self.use_separable_conv,
            num_fcs=self.num_fcs, fc_dims=self.fc_dims,
            class_agnostic_boxes=self.class_agnostic_boxes, **norm_activation_config(self))
        return config
