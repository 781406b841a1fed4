"""The TPU model zoo's published ImageNet classifiers on SpineNet."""

from spinenet_tf.models.classifier.classifier_config import ClassifierConfig
from spinenet_tf.pretrained.preset import TPU_MODEL_ZOO, ZOO, Preset

BEST = "stochastic depth, swish and label smoothing"
TRAINED_AT_224 = ("Trained at 224 px; this project's SpineNet needs sides that are multiples "
                  "of 128, so it runs these at 256 (or 128, 384, ...).")
# tensorflow/tpu's configs/spinenet/*_classification.yaml: the plain and the
# "-best" files alike, so their global steps do not tell them apart.
TOTAL_STEPS = 62557


def _model_zoo(name, variant, top1, params, recipe, activation, archive):
    """A TPU model zoo classifier: 1001 classes, batch norm 0.9 / 1e-5,
    pooled over every level."""
    model = ClassifierConfig(
        backbone=variant, image_size=[256, 256], num_classes=1001, activation=activation,
        norm_momentum=0.9, norm_epsilon=1e-5, flavor="tpu", aggregation="all")
    return Preset(name=name, family="classifier", model=model,
                  url=f"{ZOO}/classification/{archive}.tar.gz", source=TPU_MODEL_ZOO,
                  metric="ImageNet top-1", published=top1, published_params_m=params,
                  recipe=recipe, total_steps=TOTAL_STEPS, notes=TRAINED_AT_224)


PRESETS = (
    _model_zoo("classifier-spinenet-49", "spinenet-49", 77.0, 22.1, "200 epochs, relu",
               "relu", "spinenet-49-imagenet"),
    _model_zoo("classifier-spinenet-96", "spinenet-96", 78.2, 36.5, "200 epochs, relu",
               "relu", "spinenet-96-imagenet"),
    _model_zoo("classifier-spinenet-143", "spinenet-143", 79.0, 60.5, "200 epochs, relu",
               "relu", "spinenet-143-imagenet"),
    _model_zoo("classifier-spinenet-49-best", "spinenet-49", 78.1, 22.1, BEST, "swish",
               "spinenet-49-best-imagenet"),
    _model_zoo("classifier-spinenet-96-best", "spinenet-96", 79.4, 36.5, BEST, "swish",
               "spinenet-96-best-imagenet"),
    _model_zoo("classifier-spinenet-143-best", "spinenet-143", 80.1, 60.5, BEST, "swish",
               "spinenet-143-best-imagenet"),
    _model_zoo("classifier-spinenet-190-best", "spinenet-190", 80.8, 127.1, BEST, "swish",
               "spinenet-190-best-imagenet"),
)
