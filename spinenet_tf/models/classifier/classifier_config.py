"""The classifier's sections of an experiment: `model:` (backbone and head)
and `losses:`; the one place a SpineNetClassifier is built from settings."""

import dataclasses
import typing

from spinenet_tf.config.fields import bounded, check_choice
from spinenet_tf.config.sections import LossesConfig, ModelConfig
from spinenet_tf.models.classifier.spinenet_classifier import AGGREGATIONS, SpineNetClassifier


@dataclasses.dataclass
class ClassifierLosses(LossesConfig):
    """`losses:` of a classifier: cross-entropy with label smoothing."""

    label_smoothing: float = bounded(0.0, at_least=0.0, at_most=0.999)


@dataclasses.dataclass
class ClassifierConfig(ModelConfig):
    """`model:` of `type: classifier`: an image-folder classifier on a
    SpineNet backbone (the papers' ImageNet transfer setup)."""

    type: str = "classifier"
    image_size: typing.List[int] = dataclasses.field(default_factory=lambda: [256, 256])
    num_classes: int = bounded(1000, at_least=2)
    dropout_rate: float = bounded(0.0, at_least=0.0, at_most=0.999)
    add_head_batch_norm: bool = False
    # "top" (pool the coarsest level) or "all" (the mean of every level, as
    # the TPU model zoo's classifiers).
    aggregation: str = "top"

    MOVED_KEYS: typing.ClassVar[typing.Dict[str, str]] = {
        "label_smoothing": "moved to losses.label_smoothing (spinenet_tf >= 0.10)",
    }

    def validate(self, where, experiment):
        super().validate(where, experiment)
        check_choice(self.aggregation, AGGREGATIONS, "model.aggregation", where)

    def build(self, losses=None, name=None):
        """The classifier these settings describe, with fresh weights."""
        losses = losses or ClassifierLosses()
        regularizer = losses.kernel_regularizer()
        return SpineNetClassifier(
            self.build_backbone(regularizer), self.num_classes, dropout_rate=self.dropout_rate,
            label_smoothing=losses.label_smoothing,
            add_head_batch_norm=self.add_head_batch_norm, aggregation=self.aggregation,
            kernel_regularizer=regularizer, name=name or "spinenet_classifier")
