"""Cross-entropy on integer labels with label smoothing."""

import keras


@keras.saving.register_keras_serializable(package="spinenet_tf")
class SparseCategoricalCrossentropyWithSmoothing(keras.losses.Loss):
    """Cross-entropy on integer labels with label smoothing.

    Keras' `SparseCategoricalCrossentropy` has no label smoothing, so the
    labels are one-hot encoded and passed to Keras' `categorical_crossentropy`.
    """

    def __init__(self, num_classes, label_smoothing=0.0, from_logits=True,
                 name="sparse_categorical_crossentropy_with_smoothing", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = int(num_classes)
        self.label_smoothing = float(label_smoothing)
        self.from_logits = from_logits

    def call(self, y_true, y_pred):
        labels = keras.ops.reshape(keras.ops.cast(y_true, "int32"), (-1,))
        one_hot = keras.ops.one_hot(labels, self.num_classes)
        return keras.losses.categorical_crossentropy(
            one_hot, keras.ops.reshape(y_pred, (-1, self.num_classes)),
            from_logits=self.from_logits, label_smoothing=self.label_smoothing)

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes,
                      label_smoothing=self.label_smoothing,
                      from_logits=self.from_logits)
        return config
