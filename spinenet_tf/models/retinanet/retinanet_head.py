"""The RetinaNet head: class and box towers shared across pyramid levels."""

import math

import keras

from spinenet_tf.layers.batch_normalization import BatchNormalization
from spinenet_tf.layers.conv_norm_layer import check_activation
from spinenet_tf.layers.fake_quantization import (
    ActivationQuantizer,
    QuantizedConv2D,
    QuantizedSeparableConv2D,
)
from spinenet_tf.layers.layer_form import FoldsBatchNorm, LayerForm, form_from_legacy_config
from spinenet_tf.utils.model_complexity import conv_macs

# Initial class bias: every anchor starts at foreground probability 0.01.
PRIOR_PROBABILITY = 0.01


@keras.saving.register_keras_serializable(package="spinenet_tf")
class RetinaNetHead(FoldsBatchNorm, keras.layers.Layer):
    """Class and box prediction towers of RetinaNet, as tf-models-official
    builds them.

    Each tower is `num_convs` 3x3 convolutions of `num_filters` channels,
    shared by all levels, each followed by a batch norm of its own per level
    and the activation; then a shared 3x3 predictor: `anchors_per_location
    * num_classes` class logits or `anchors_per_location * 4` box codes.
    With `use_separable_conv` (the SpineNet-Mobile recipe) every conv is a
    separable conv. Initialisation as in the reference: tower kernels
    N(0, 0.01) (separable towers: Keras' defaults), predictor kernels
    N(0, 1e-5) (separable: N(0, 0.03)), class bias -log((1 - 0.01) / 0.01).

    Call it on a dict {"P3": [B, H3, W3, C], ...} of equal-width features;
    it returns `(class_logits, box_deltas)`, two dicts with the same keys,
    in float32 whatever the compute dtype (the loss and the box decoding
    work in float32).

    The inference form (`form="folded"`, made by
    `spinenet_tf.inference_model`) has no batch norms: each level gets its
    own tower convs with the level's batch norm folded into kernel and
    bias, the same arithmetic in fewer passes over memory (the towers'
    weights grow by the number of levels).

    Args:
        min_level, max_level: the levels it predicts on.
        num_classes: class logits per anchor; slot 0 is background, as in
            the reference (91 for COCO).
        anchors_per_location: e.g. 9 (3 scales x 3 aspect ratios).
        num_convs, num_filters: tower depth and width.
        use_separable_conv: separable instead of regular convolutions.
        activation: "relu", "swish" or "hard_swish".
        use_sync_bn, norm_momentum, norm_epsilon: batch-norm settings.
        kernel_regularizer, bias_regularizer: applied where the reference
            applies them (no kernel regularizer on separable towers).
        form: a `LayerForm` or its name: "trainable", "folded" (the
            inference form, see above) or "quantization_aware" (folded, the
            form trained for int8 by `spinenet_tf.quantization_aware_model`:
            fake-quantized kernels, tower activations and predictions).
    """

    def __init__(
        self,
        min_level=3,
        max_level=7,
        num_classes=91,
        anchors_per_location=9,
        num_convs=4,
        num_filters=256,
        use_separable_conv=False,
        activation="relu",
        use_sync_bn=False,
        norm_momentum=0.99,
        norm_epsilon=1e-3,
        kernel_regularizer=None,
        bias_regularizer=None,
        form=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not 1 <= min_level <= max_level:
            raise ValueError(
                "Need 1 <= min_level <= max_level; received "
                f"min_level={min_level}, max_level={max_level}.")
        for arg, value in (("num_classes", num_classes),
                           ("anchors_per_location", anchors_per_location),
                           ("num_filters", num_filters)):
            if int(value) < 1:
                raise ValueError(f"`{arg}` must be >= 1; received {value}.")
        if num_convs < 0:
            raise ValueError(f"`num_convs` must be >= 0; received {num_convs}.")
        self.min_level = int(min_level)
        self.max_level = int(max_level)
        self.num_classes = int(num_classes)
        self.anchors_per_location = int(anchors_per_location)
        self.num_convs = int(num_convs)
        self.num_filters = int(num_filters)
        self.use_separable_conv = bool(use_separable_conv)
        self.activation = check_activation(activation)
        self.use_sync_bn = use_sync_bn
        self.norm_momentum = norm_momentum
        self.norm_epsilon = norm_epsilon
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.form = LayerForm.get(form)
        self.levels = [f"P{level}" for level in range(self.min_level, self.max_level + 1)]
        self.activation_fn = keras.activations.get(self.activation)

        self.class_convs, self.class_norms = self._tower("class")
        self.box_convs, self.box_norms = self._tower("box")
        prior_bias = -math.log((1 - PRIOR_PROBABILITY) / PRIOR_PROBABILITY)
        self.class_predictor = self._predictor(
            self.anchors_per_location * self.num_classes,
            keras.initializers.Constant(prior_bias), "class_logits")
        self.box_predictor = self._predictor(
            self.anchors_per_location * 4, "zeros", "box_deltas")
        # Quantization-aware: the range of each tower activation and
        # prediction, per level (the int8 file's tensors).
        self.quantizers = {}
        if self.form.fake_quantizes:
            self.quantizers = {
                f"{prefix}_{level}_{part}": ActivationQuantizer(
                    activation=None if part == "output" else self.activation,
                    dtype=self.dtype_policy, name=f"{prefix}_{level}_{part}_quantizer")
                for prefix in ("class", "box") for level in self.levels
                for part in [f"act{i}" for i in range(self.num_convs)] + ["output"]}

    def _conv(self, filters, name, bias_initializer, kernel_stddev=None):
        if self.use_separable_conv:
            init = {}
            if kernel_stddev is not None:  # predictors only, as the reference
                init = dict(
                    depthwise_initializer=keras.initializers.RandomNormal(stddev=0.03),
                    pointwise_initializer=keras.initializers.RandomNormal(stddev=0.03),
                    depthwise_regularizer=self.kernel_regularizer,
                    pointwise_regularizer=self.kernel_regularizer)
            return (QuantizedSeparableConv2D if self.form.fake_quantizes
                    else keras.layers.SeparableConv2D)(
                filters, 3, padding="same", bias_initializer=bias_initializer,
                bias_regularizer=self.bias_regularizer, dtype=self.dtype_policy,
                name=name, **init)
        return (QuantizedConv2D if self.form.fake_quantizes else keras.layers.Conv2D)(
            filters, 3, padding="same",
            kernel_initializer=keras.initializers.RandomNormal(
                stddev=kernel_stddev or 0.01),
            kernel_regularizer=self.kernel_regularizer,
            bias_initializer=bias_initializer,
            bias_regularizer=self.bias_regularizer,
            dtype=self.dtype_policy, name=name)

    def _tower(self, prefix):
        """(convs, norms): `convs` a list shared by the levels and `norms`
        {level: [batch norm per conv]}; folded, `convs` is {level: [conv]}
        and `norms` None."""
        if self.form.folds_batch_norm:
            convs = {level: [self._conv(self.num_filters, f"{prefix}_{level}_conv{i}",
                                        "zeros")
                             for i in range(self.num_convs)]
                     for level in self.levels}
            return convs, None
        convs = [self._conv(self.num_filters, f"{prefix}_conv{i}", "zeros")
                 for i in range(self.num_convs)]
        norms = {
            level: [
                BatchNormalization(
                    momentum=self.norm_momentum, epsilon=self.norm_epsilon,
                    synchronized=self.use_sync_bn, dtype=self.dtype_policy,
                    name=f"{prefix}_{level}_bn{i}")
                for i in range(self.num_convs)
            ]
            for level in self.levels
        }
        return convs, norms

    def _predictor(self, filters, bias_initializer, name):
        return self._conv(filters, name, bias_initializer, kernel_stddev=1e-5)

    def build(self, input_shape):
        missing = [level for level in self.levels if level not in input_shape]
        if missing:
            raise ValueError(
                f"RetinaNetHead predicts on {self.levels} but received "
                f"features for {sorted(input_shape)}; missing {missing}.")
        widths = {level: input_shape[level][-1] for level in self.levels}
        if len(set(widths.values())) != 1:
            raise ValueError(
                "RetinaNetHead shares its convolutions across levels, so all "
                f"levels need the same number of channels; received {widths}.")
        self.level_shapes = {level: tuple(input_shape[level]) for level in self.levels}
        shape = tuple(input_shape[self.levels[0]])
        tower_shape = shape[:-1] + (self.num_filters,)
        for prefix in ("class", "box"):
            for level in self.levels:
                for i, (conv, norm) in enumerate(self.tower_layers(prefix, level)):
                    if not conv.built:
                        conv.build(shape if i == 0 else tower_shape)
                    if norm is not None:
                        norm.build(tower_shape)
        predictor_shape = tower_shape if self.num_convs else shape
        self.class_predictor.build(predictor_shape)
        self.box_predictor.build(predictor_shape)
        for quantizer in self.quantizers.values():
            quantizer.build(())

    def tower_layers(self, prefix, level):
        """[(conv, batch norm or None)] of tower `prefix` ("class" or "box")
        at `level` ("P3", ...), in order."""
        convs = getattr(self, f"{prefix}_convs")
        if self.form.folds_batch_norm:
            return [(conv, None) for conv in convs[level]]
        return list(zip(convs, getattr(self, f"{prefix}_norms")[level]))

    def batch_norm_pairs(self):
        """[(conv, batch norm, path of the folded conv)] of every tower conv
        and level: what `spinenet_tf.inference_model` folds."""
        if self.form.folds_batch_norm:
            return []
        return [(conv, norm, f"{self.path}/{prefix}_{level}_conv{i}")
                for prefix in ("class", "box") for level in self.levels
                for i, (conv, norm) in enumerate(self.tower_layers(prefix, level))]

    def _tower_output(self, x, prefix, level, training):
        for i, (conv, norm) in enumerate(self.tower_layers(prefix, level)):
            x = conv(x)
            if norm is not None:
                x = norm(x, training=training)
            if self.quantizers:
                x = self.quantizers[f"{prefix}_{level}_act{i}"](x, training=training)
            else:
                x = self.activation_fn(x)
        return x

    def _prediction(self, predictor, x, prefix, level, training):
        x = predictor(x)
        if self.quantizers:
            x = self.quantizers[f"{prefix}_{level}_output"](x, training=training)
        return keras.ops.cast(x, "float32")

    def call(self, features, training=None):
        class_logits, box_deltas = {}, {}
        for level in self.levels:
            x = features[level]
            class_logits[level] = self._prediction(
                self.class_predictor, self._tower_output(x, "class", level, training),
                "class", level, training)
            box_deltas[level] = self._prediction(
                self.box_predictor, self._tower_output(x, "box", level, training),
                "box", level, training)
        return class_logits, box_deltas

    def compute_output_shape(self, input_shape):
        def shapes(channels):
            return {level: tuple(input_shape[level][:-1]) + (channels,)
                    for level in self.levels}
        return (shapes(self.anchors_per_location * self.num_classes),
                shapes(self.anchors_per_location * 4))

    def compute_output_spec(self, features, training=None):
        shapes = self.compute_output_shape(
            {level: tuple(x.shape) for level, x in features.items()})
        return tuple({level: keras.KerasTensor(shape, dtype="float32")
                      for level, shape in part.items()} for part in shapes)

    def count_macs(self):
        """Multiply-adds for one image, summed over the levels it is shared by."""
        total = 0
        for level, shape in self.level_shapes.items():
            tower_shape = shape[:-1] + (self.num_filters,)
            for prefix in ("class", "box"):
                for i, (conv, _) in enumerate(self.tower_layers(prefix, level)):
                    total += conv_macs(conv, shape if i == 0 else tower_shape)
            last = tower_shape if self.num_convs else shape
            total += conv_macs(self.class_predictor, last)
            total += conv_macs(self.box_predictor, last)
        return total

    def get_config(self):
        config = super().get_config()
        config.update({
            "min_level": self.min_level,
            "max_level": self.max_level,
            "num_classes": self.num_classes,
            "anchors_per_location": self.anchors_per_location,
            "num_convs": self.num_convs,
            "num_filters": self.num_filters,
            "use_separable_conv": self.use_separable_conv,
            "activation": self.activation,
            "use_sync_bn": self.use_sync_bn,
            "norm_momentum": self.norm_momentum,
            "norm_epsilon": self.norm_epsilon,
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "form": self.form.name,
        })
        return config

    @classmethod
    def from_config(cls, config):
        return super().from_config(form_from_legacy_config(config))
