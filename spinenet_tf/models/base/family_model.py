"""What every model family's Keras model shares: construction by variant
or preset, the input contract, the inference form and its named parts."""

import dataclasses

import keras

from spinenet_tf import registry
from spinenet_tf.backbones.scale_permuted_backbone import resolve_dtype_policy
from spinenet_tf.backbones.variants import get_variant
from spinenet_tf.layers.image_preprocessor import ImagePreprocessor
from spinenet_tf.layers.layer_form import folded_config
from spinenet_tf.models.base.weight_transfer import model_weight_values, transfer_weights
from spinenet_tf.pretrained.loading import (
    build_preset_model, load_preset_weights, model_config_of)
from spinenet_tf.pretrained.preset import Preset


class FamilyModel:
    """The base of each family's model (`RetinaNet`, `MaskRCNN`,
    `CascadeRCNN`, `SpineNetClassifier`), functional or subclassed.

    * `from_variant(variant, num_classes, ...)` and `from_preset(name, ...)`
      build through the family's config section (`registry`), the one
      construction path;
    * `preprocessor` is the input contract (`ImagePreprocessor`) that the
      input pipelines, evaluation and serving all call;
    * `folded_config` is the config of the inference form
      (`spinenet_tf.inference_model`);
    * `parts()` names the model's parts (backbone, heads) and
      `class_specific_layers()` the layers whose shapes follow the class
      count, for fine-tuning (`init_from` parts, re-initialised class
      layers) and freezing.

    A plain mixin, not a `keras.Model`: Keras makes a `Model` subclass that
    is built functionally (RetinaNet) a `Functional` one by rewriting the
    bases of its classes, which would turn a shared `keras.Model` base into
    `Functional` under a subclassed model (MaskRCNN) too.
    """

    # The task's image geometry (`ImagePreprocessor`): None letterboxes
    # (detection); a fraction centre-crops (classification).
    center_crop_fraction = None

    @classmethod
    def family(cls):
        """The registered family this class is the model of."""
        return registry.family_of(cls)

    @classmethod
    def from_variant(cls, variant, num_classes=None, *, image_size=None,
                     flavor="model_garden", name=None, **settings):
        """The paper's model of this family on a named backbone `variant`
        ("spinenet-49", "spinenet-mobile-49", ...; `spinenet-summary --all`),
        with the family's recipe for it, at the variant's paper input size
        unless `image_size` (a side or [height, width]) is given.

        `num_classes` (default: the family's) includes the background slot
        of detectors. `flavor="tpu"` builds the TPU model zoo's network.
        `settings` are keys of the family's `model:` config section
        (`activation`, `block_specs`, head sizes, ...).
        """
        config_class = cls.family().config_class
        size = image_size or get_variant(variant).paper_image_size
        values = dict(settings, backbone=variant, flavor=flavor,
                      image_size=[size, size] if isinstance(size, int) else list(size))
        if num_classes is not None:
            values["num_classes"] = num_classes
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(config_class)})
        if unknown:
            raise TypeError(f"{cls.__name__}.from_variant received unknown settings "
                            f"{unknown}; its settings are the keys of its config section "
                            f"{config_class.__name__}: "
                            f"{sorted(f.name for f in dataclasses.fields(config_class))}.")
        return config_class(**values).build(name=name)

    @classmethod
    def from_preset(cls, preset, *, num_classes=None, path=None, image_size=None,
                    cache_dir=None):
        """A published checkpoint of this family with its weights: keras-hub's
        convention (`preset` a catalog name, e.g. "retinanet-spinenet-49",
        `spinenet-pretrained list`, or a `Preset`; `path` a local archive,
        folder or prefix instead of the download; `image_size` another input
        side). With `num_classes` other than the preset's, the model is built
        for that many classes: every weight is the preset's except the
        class-specific layers', which start fresh (`weight_transfer`), a
        start to fine-tune on your own classes. `model.pretrained_report`
        says what was loaded, skipped and re-initialised."""
        preset = preset if isinstance(preset, Preset) else registry.get_preset(preset)
        family = cls.family()
        if preset.family != family.name:
            raise ValueError(
                f"{preset.name} is a {preset.family} checkpoint; {cls.__name__} loads the "
                f"{family.name} presets {sorted(p.name for p in family.presets)}.")
        model = build_preset_model(preset, image_size)
        report = load_preset_weights(model, preset, path, cache_dir)
        if num_classes is None or num_classes == preset.model.num_classes:
            model.pretrained_report = report
            return model
        config = dataclasses.replace(model_config_of(preset, image_size),
                                     num_classes=num_classes)
        target = config.build(name=model.name)
        transfer = transfer_weights(model_weight_values(model), target, "all", preset.name)
        target.pretrained_report = dict(report, reinitialised=transfer.reinitialised,
                                        num_classes=num_classes)
        return target

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

    def make_train_function(self, force=False):
        """Keras' train function, the optimizer's slot variables made first,
        eagerly, from the variables trainable now (as Keras' first train
        step would). Without a distribution strategy Keras makes them inside
        the first traced step, each behind a `tf.cond` of its own: about
        half of that step's time for a small RetinaNet (docs/benchmarks.md)."""
        if self.optimizer is not None and not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)
        return super().make_train_function(force)

    def parts(self):
        """{part name: layer} of the model: "backbone" and each head, in
        order (`init_from` parts and `freeze` name them)."""
        raise NotImplementedError

    def class_specific_layers(self):
        """The layers whose weights' shapes follow `num_classes` (re-drawn
        when a model is fine-tuned onto another class count)."""
        raise NotImplementedError


class FunctionalFamilyModel(FamilyModel, keras.Model):
    """A family model built with the functional API: a backbone under a
    head (RetinaNet, the classifier).

    Holds the parts both serialise the same way: the `backbone`, the input
    contract (`preprocessor`), the head layers' dtype policy and the head's
    `kernel_regularizer`. Subclasses build their graph on `task_inputs(...)`,
    call `keras.Model.__init__`, then `set_task_attributes(...)`, and
    extend `get_config`.
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
        backbone = keras.saving.deserialize_keras_object(config.pop("backbone"))
        num_classes = config.pop("num_classes")
        config["kernel_regularizer"] = keras.regularizers.get(
            config.get("kernel_regularizer"))
        if config.get("preprocessor") is not None:
            config["preprocessor"] = keras.saving.deserialize_keras_object(
                config["preprocessor"])
        return cls(backbone, num_classes, **config)
