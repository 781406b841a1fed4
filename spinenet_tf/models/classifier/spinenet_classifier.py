"""Image classification on a SpineNet backbone (the papers' transfer setup)."""

import keras

from spinenet_tf.backbones.head_interface import backbone_norm_activation
from spinenet_tf.layers.batch_normalization import BatchNormalization
from spinenet_tf.layers.image_preprocessor import CENTER_CROP_FRACTION
from spinenet_tf.models.base.family_model import FunctionalFamilyModel
from spinenet_tf.models.classifier.smoothed_crossentropy import (
    SparseCategoricalCrossentropyWithSmoothing,
)

AGGREGATIONS = ("top", "all")


@keras.saving.register_keras_serializable(package="spinenet_tf")
class SpineNetClassifier(FunctionalFamilyModel):
    """Backbone -> global average pool -> dropout -> dense logits.

    Built the way tf-models-official's `ClassificationModel` builds it: it
    pools the backbone's *coarsest* endpoint, `P{max_level}` (P7 for the
    default levels: the 1x1-conv + BN + activation output with
    `endpoints_num_filters` channels), optionally after an extra batch norm
    (`add_head_batch_norm`), then dropout and one dense layer with Keras'
    "random_uniform" initializer, as the reference. Outputs float32 logits
    whatever the compute dtype.

    With `aggregation="all"` (the TPU model zoo's classifiers) it pools the
    mean of every level instead: from the coarsest, each map is upsampled
    2x (nearest) and added to the next finer one, and the sum is divided by
    the number of levels.

    `compile(loss="auto")` uses cross-entropy on integer labels with the
    model's `label_smoothing` (the papers' ImageNet recipe uses 0.1).

    As `RetinaNet`, it owns its input contract (`preprocessor`, an
    `ImagePreprocessor`) and the outputs the exporters serve
    (`serving_outputs`, `tflite_outputs`).

    Args:
        backbone: a Keras model returning {"P{level}": features}.
        num_classes: number of classes.
        dropout_rate: dropout before the dense layer.
        label_smoothing: used by `compile(loss="auto")`.
        add_head_batch_norm: batch norm before pooling.
        aggregation: "top" (pool the coarsest level, Model Garden) or "all"
            (pool the mean of all levels, the TPU model zoo).
        kernel_regularizer: for the dense layer.
        preprocessor: an `ImagePreprocessor` (default: ImageNet statistics
            at the backbone's input size, the reference's classification
            geometry: a centred square of 0.875 of the short side in
            evaluation and serving, a random crop in training).
        dtype: dtype policy of the head layers (default: the global policy).
    """

    center_crop_fraction = CENTER_CROP_FRACTION

    def __init__(self, backbone, num_classes, *, dropout_rate=0.0,
                 label_smoothing=0.0, add_head_batch_norm=False,
                 kernel_regularizer=None, aggregation="top", preprocessor=None,
                 dtype=None, name="spinenet_classifier", **kwargs):
        if int(num_classes) < 1:
            raise ValueError(f"`num_classes` must be >= 1; received {num_classes}.")
        if not 0.0 <= dropout_rate < 1.0:
            raise ValueError(f"`dropout_rate` must be in [0, 1); received {dropout_rate}.")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(
                f"`label_smoothing` must be in [0, 1); received {label_smoothing}.")
        outputs = backbone.output
        if not isinstance(outputs, dict) or not outputs:
            raise ValueError(
                "The backbone must output a dict {'P3': ..., 'P7': ...}; "
                f"received {outputs!r}.")
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"`aggregation` must be one of {list(AGGREGATIONS)}; "
                             f"received {aggregation!r}.")
        levels = sorted(outputs, key=lambda key: int(str(key).lstrip("P")))
        pooled_level = levels[-1]
        input_shape, preprocessor, dtype = self.task_inputs(
            backbone, preprocessor, dtype)

        # === Functional Model ===
        images = keras.Input(shape=input_shape, name="images")
        features = backbone(images)
        x = features[pooled_level]
        if aggregation == "all":
            for level in reversed(levels[:-1]):
                x = keras.layers.UpSampling2D(
                    2, interpolation="nearest", dtype=dtype,
                    name=f"aggregate_upsample_{level}")(x)
                x = keras.layers.Add(dtype=dtype, name=f"aggregate_{level}")(
                    [x, features[level]])
            x = keras.layers.Rescaling(1.0 / len(levels), dtype=dtype,
                                       name="aggregate_mean")(x)
        if add_head_batch_norm:
            norm = backbone_norm_activation(backbone)
            x = BatchNormalization(
                momentum=norm.norm_momentum, epsilon=norm.norm_epsilon,
                synchronized=norm.use_sync_bn, dtype=dtype, name="head_bn")(x)
        x = keras.layers.GlobalAveragePooling2D(dtype=dtype, name="pool")(x)
        x = keras.layers.Dropout(dropout_rate, dtype=dtype, name="dropout")(x)
        logits = keras.layers.Dense(
            num_classes, kernel_initializer="random_uniform",
            kernel_regularizer=kernel_regularizer, dtype=dtype,
            name="logits")(x)
        if keras.backend.standardize_dtype(dtype.compute_dtype) != "float32":
            logits = keras.layers.Identity(dtype="float32", name="float32_logits")(logits)
        super().__init__(inputs=images, outputs=logits, name=name, **kwargs)

        # === Config ===
        self.set_task_attributes(backbone, preprocessor, dtype, kernel_regularizer)
        self.num_classes = int(num_classes)
        self.dropout_rate = dropout_rate
        self.label_smoothing = label_smoothing
        self.add_head_batch_norm = add_head_batch_norm
        self.aggregation = aggregation
        self.pooled_level = pooled_level

    def compile(self, optimizer="auto", loss="auto", metrics="auto", **kwargs):
        """Defaults: SGD (momentum 0.9), smoothed cross-entropy, accuracy."""
        if optimizer == "auto":
            optimizer = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)
        if loss == "auto":
            loss = SparseCategoricalCrossentropyWithSmoothing(
                self.num_classes, self.label_smoothing)
        if metrics == "auto":
            metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def serving_outputs(self, images, image_info=None):
        """`logits` and `probabilities` of preprocessed `images` (what
        serving returns; `image_info` is not needed)."""
        del image_info
        logits = keras.ops.cast(self(images, training=False), "float32")
        return {"logits": logits, "probabilities": keras.ops.softmax(logits)}

    def tflite_outputs(self, images, post_processing=True, post_process_config=None,
                       nms="fast"):
        """`probabilities` of normalised `images` (a `.tflite`'s output; the
        detection arguments do not apply)."""
        del post_processing, post_process_config, nms
        return {"probabilities": self.serving_outputs(images)["probabilities"]}

    def parts(self):
        return {"backbone": self.backbone, "head": self.get_layer("logits")}

    def class_specific_layers(self):
        return [self.get_layer("logits")]

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "dropout_rate": self.dropout_rate,
            "label_smoothing": self.label_smoothing,
            "add_head_batch_norm": self.add_head_batch_norm,
            "aggregation": self.aggregation,
        }
