"""The region proposal network head: objectness and box codes per anchor."""

import keras
from keras import ops

from spinenet_tf.rcnn.head_building import (
    batch_norm,
    check_non_negative,
    check_positive,
    norm_activation_config,
    set_norm_activation,
)


@keras.saving.register_keras_serializable(package="spinenet_tf")
class RPNHead(keras.layers.Layer):
    """Mask R-CNN's region proposal head, as tf-models-official builds it.

    `num_convs` 3x3 convolutions of `num_filters` channels shared by all
    levels, each followed by a batch norm of its own per level and the
    activation; then two shared 1x1 predictors: one objectness logit and
    four box codes per anchor. Initialisation as the reference: tower
    kernels N(0, 0.01), predictor kernels N(0, 1e-5), zero biases (Keras'
    defaults for separable convs, which get no kernel regularizer).

    With `norm_each_conv=False` the tower is the one tensorflow/tpu's
    model zoo trained before February 2021 (its SpineNet-190 Mask R-CNN
    file, tensorflow/tpu#913): the convolutions chained with no batch norm
    or activation between them, one batch norm per level (and the
    activation) after the last. With one conv both layouts are the same.

    Call it on a dict {"P3": [B, H3, W3, C], ...} of equal-width features;
    it returns `(scores, boxes)`, dicts with the same keys of
    [B, H, W, anchors_per_location] and [B, H, W, 4 * anchors_per_location],
    in float32 whatever the compute dtype.

    Args:
        min_level, max_level: the levels it predicts on.
        anchors_per_location: anchors per pixel (3 in the COCO recipe: one
            scale, aspect ratios 0.5, 1, 2).
        num_convs, num_filters: tower depth and width (1 x 256).
        use_separable_conv: separable instead of regular convolutions.
        norm_each_conv: a batch norm (per level) after every tower conv;
            False: only after the last (the 2020 TPU layout above).
        activation: "relu", "swish" or "hard_swish".
        use_sync_bn, norm_momentum, norm_epsilon: batch-norm settings.
        kernel_regularizer, bias_regularizer: where the reference applies them.
    """

    def __init__(self, min_level=3, max_level=7, anchors_per_location=3, num_convs=1,
                 num_filters=256, use_separable_conv=False, norm_each_conv=True,
                 activation="relu",
                 use_sync_bn=False, norm_momentum=0.99, norm_epsilon=1e-3,
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if not 1 <= min_level <= max_level:
            raise ValueError("Need 1 <= min_level <= max_level; received "
                             f"min_level={min_level}, max_level={max_level}.")
        check_positive(anchors_per_location=anchors_per_location, num_filters=num_filters)
        check_non_negative(num_convs=num_convs)
        self.min_level, self.max_level = int(min_level), int(max_level)
        self.anchors_per_location = int(anchors_per_location)
        self.num_convs = int(num_convs)
        self.num_filters = int(num_filters)
        self.use_separable_conv = bool(use_separable_conv)
        self.norm_each_conv = bool(norm_each_conv)
        set_norm_activation(self, activation, use_sync_bn, norm_momentum, norm_epsilon,
                            kernel_regularizer, bias_regularizer)
        self.levels = [f"P{level}" for level in range(self.min_level, self.max_level + 1)]
        self.convs = [self._conv(self.num_filters, 3, 0.01, f"rpn_conv{i}")
                      for i in range(self.num_convs)]
        num_norms = self.num_convs if self.norm_each_conv else min(self.num_convs, 1)
        self.norms = {level: [batch_norm(self, f"rpn_{level}_bn{i}")
                              for i in range(num_norms)] for level in self.levels}
        self.score_predictor = self._conv(self.anchors_per_location, 1, 1e-5, "rpn_scores")
        self.box_predictor = self._conv(4 * self.anchors_per_location, 1, 1e-5, "rpn_boxes")

    def _conv(self, filters, kernel_size, kernel_stddev, name):
        common = dict(padding="same" if kernel_size > 1 else "valid",
                      bias_initializer="zeros", bias_regularizer=self.bias_regularizer,
                      dtype=self.dtype_policy, name=name)
        if self.use_separable_conv:
            return keras.layers.SeparableConv2D(filters, kernel_size, **common)
        return keras.layers.Conv2D(
            filters, kernel_size,
            kernel_initializer=keras.initializers.RandomNormal(stddev=kernel_stddev),
            kernel_regularizer=self.kernel_regularizer, **common)

    def build(self, input_shape):
        missing = [level for level in self.levels if level not in input_shape]
        if missing:
            raise ValueError(f"RPNHead predicts on {self.levels} but received features "
                             f"for {sorted(input_shape)}; missing {missing}.")
        widths = {level: input_shape[level][-1] for level in self.levels}
        if len(set(widths.values())) != 1:
            raise ValueError("RPNHead shares its convolutions across levels, so all "
                             f"levels need the same number of channels; received {widths}.")
        shape = tuple(input_shape[self.levels[0]])
        tower_shape = shape[:-1] + (self.num_filters,)
        for i, conv in enumerate(self.convs):
            conv.build(shape if i == 0 else tower_shape)
        for level in self.levels:
            for norm in self.norms[level]:
                norm.build(tower_shape)
        predictor_shape = tower_shape if self.num_convs else shape
        self.score_predictor.build(predictor_shape)
        self.box_predictor.build(predictor_shape)

    def call(self, features, training=None):
        scores, boxes = {}, {}
        for level in self.levels:
            x = features[level]
            if self.norm_each_conv:
                for conv, norm in zip(self.convs, self.norms[level]):
                    x = self.activation_fn(norm(conv(x), training=training))
            elif self.convs:
                for conv in self.convs:
                    x = conv(x)
                x = self.activation_fn(self.norms[level][0](x, training=training))
            scores[level] = ops.cast(self.score_predictor(x), "float32")
            boxes[level] = ops.cast(self.box_predictor(x), "float32")
        return scores, boxes

    def compute_output_shape(self, input_shape):
        def shape(level, channels):
            return tuple(input_shape[level][:-1]) + (channels,)

        return ({level: shape(level, self.anchors_per_location) for level in self.levels},
                {level: shape(level, 4 * self.anchors_per_location) for level in self.levels})

    def get_config(self):
        config = super().get_config()
        config.update(
            min_level=self.min_level, max_level=self.max_level,
            anchors_per_location=self.anchors_per_location, num_convs=self.num_convs,
            num_filters=self.num_filters, use_separable_conv=self.use_separable_conv,
            norm_each_conv=self.norm_each_conv, **norm_activation_config(self))
        return config
