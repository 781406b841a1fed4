"""Image classification on SpineNet: the model, its loss and task, its
config sections, the TPU model zoo's ImageNet presets and their names;
registered as the `classifier` family."""

from spinenet_tf import registry
from spinenet_tf.models.classifier import checkpoint_names
from spinenet_tf.models.classifier.classification_task import ClassificationTask
from spinenet_tf.models.classifier.classifier_config import ClassifierConfig, ClassifierLosses
from spinenet_tf.models.classifier.model_garden_twin import transfer_model_garden_classifier_weights
from spinenet_tf.models.classifier.presets import PRESETS
from spinenet_tf.models.classifier.smoothed_crossentropy import (
    SparseCategoricalCrossentropyWithSmoothing,
)
from spinenet_tf.models.classifier.spinenet_classifier import SpineNetClassifier

FAMILY = registry.register_family(registry.Family(
    name="classifier", model_class=SpineNetClassifier, config_class=ClassifierConfig,
    losses_class=ClassifierLosses, task_class=ClassificationTask,
    description="Image classifier: pooled SpineNet features, one dense layer",
    presets=PRESETS, model_zoo_names=checkpoint_names.model_zoo_names))

__all__ = ["ClassifierConfig", "ClassifierLosses", "FAMILY",
           "SparseCategoricalCrossentropyWithSmoothing", "SpineNetClassifier",
           "transfer_model_garden_classifier_weights"]
