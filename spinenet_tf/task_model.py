"""What the task models (RetinaNet, SpineNetClassifier, MaskRCNN) share."""

import keras

from spinenet_tf.backbones.scale_permuted_backbone import resolve_dtype_policy
from spinenet_tf.layers.image_preprocessor import ImagePreprocessor
from spinenet_tf.quantization.layer_form import folded_config


class TaskModelMixin:
    """What every task model has, functional or subclassed: a catalog
    family (`from_preset`), the input contract (`preprocessor`) and the
    config of its inference form (`folded_config`).

    A plain mixin, not a `keras.Model`: Keras makes a `Model` subclass that
    is built functionally (RetinaNet) a `Functional` one by rewriting the
    bases of its classes, which would turn a shared `keras.Model` base into
    `Functional` under a subclassed model (MaskRCNN) too.
    """

    # The task's image geometry (`ImagePreprocessor`): None letterboxes
    # (detection); a fraction centre-crops (classification).
    center_crop_fraction = None
    # The catalog family (`spinenet_tf.pretrained`) whose checkpoints fit.
    pretrained_family = None

    @classmethod
    def from_preset(cls, preset, path=None, image_size=None):
        """A published checkpoint of this family, weights loaded: keras-hub's
        convention over `spinenet_tf.pretrained.load_pretrained` (`preset` a
        catalog name, e.g. "retinanet-spinenet-49"; `path` a local archive,
        folder or prefix instead of the download)."""
        from spinenet_tf.pretrained import get_entry, load_pretrained

        entry = get_entry(preset)
        if entry.family != cls.pretrained_family:
            raise ValueError(
                f"{entry.name} is a {entry.family} checkpoint; {cls.__name__} "
                f"loads the {cls.pretrained_family} entries.")
        return load_pretrained(entry, path=path, image_size=image_size)

    @classmethod
    def task_inputs(cls, backbone, preprocessor, dtype):
        """(input shape, preprocessor, dtype policy): the defaults filled in."""
        input_shape = tuple(backbone.input.shape[1:])
        if preprocessor is None and None not in input_shape[:2]:
            preprocessor = ImagePreprocessor(
                input_shape[:2], center_crop_fraction=cls.center_crop_fraction)
        return input_shape, preprocessor, resolve_dtype_policy(dtype)

    def folded_config(self, form, precision):
        """The config of this model with its backbone (and so its head) in
        `form`, computing in `precision`: what `inference_model` builds."""
        config = self.get_config()
        config["backbone"] = dict(config["backbone"])
        config["backbone"]["config"] = folded_config(
            config["backbone"]["config"], form, precision)
        config["dtype"] = precision
        return config


class TaskModel(TaskModelMixin, keras.Model):
    """A functional model with a backbone under a task head.

    Holds the parts both functional task models own and serialise the same
    way: the `backbone`, the input contract (`preprocessor`), the head
    layers' dtype policy and the head's `kernel_regularizer`. Subclasses
    build their graph on `task_inputs(...)`, call `keras.Model.__init__`,
    then `set_task_attributes(...)`, and extend `get_config`.
    """

    def set_task_attributes(self, backbone, preprocessor, dtype, kernel_regularizer):
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.head_dtype = dtype
        self.kernel_regularizer = kernel_regularizer

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
            "dtype": keras.dtype_policies.serialize(self.head_dtype),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        config["kernel_regularizer"] = keras.regularizers.get(
            config.get("kernel_regularizer"))
        if config.get("preprocessor") is not None:
            config["preprocessor"] = keras.saving.deserialize_keras_object(
                config["preprocessor"])
        return cls(**config)
