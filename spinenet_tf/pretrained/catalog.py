"""The published SpineNet checkpoints: where they are and how to build them.

Every entry is a checkpoint that was released: the TF1 files of
tensorflow/tpu's model zoo (`models/official/detection/MODEL_ZOO.md`) and
Model Garden's one TF2 file (`MODEL_GARDEN.md`). An entry holds what the
file needs to be rebuilt exactly -- the family, the backbone variant, the
recipe's activation, batch-norm and head settings, known quirks -- and the
published figures. `spinenet_tf.pretrained.build_model(entry)` builds the
matching Keras model; `load_pretrained` fills it.

This module imports nothing heavy, so tools that run the TF1 code can read
it too.
"""

import dataclasses
from typing import Optional

ZOO = "https://storage.googleapis.com/cloud-tpu-checkpoints/detection"
MODEL_GARDEN = "https://storage.googleapis.com/tf_model_garden/vision"

TPU_MODEL_ZOO = "tpu-model-zoo"  # TF1, name-based (tf.train.Saver)
MODEL_GARDEN_TF2 = "model-garden"  # TF2, object-based (tf.train.Checkpoint)


@dataclasses.dataclass(frozen=True)
class CatalogEntry:
    """One published checkpoint.

    Attributes:
        name: the catalog name, e.g. "retinanet-spinenet-49".
        url: where the archive was published.
        source: `TPU_MODEL_ZOO` or `MODEL_GARDEN_TF2`.
        family: "retinanet", "classifier" or "maskrcnn".
        variant: the backbone variant ("spinenet-49", ...).
        image_size: the recipe's input side.
        metric: what `published` measures ("COCO box AP", "ImageNet top-1").
        published: the published figure.
        published_params_m: published parameters, in millions.
        recipe: the training recipe in words.
        activation: "relu" or "swish".
        norm_momentum, norm_epsilon: the recipe's batch norm.
        num_classes: logits per anchor or image (background included).
        head_num_filters, head_num_convs: RetinaNet head, or all three
            Mask R-CNN heads (None: the project's recipe for the variant).
        anchor_size: RetinaNet or Mask R-CNN anchor size.
        rpn_norm_each_conv: False where the file's RPN tower has one batch
            norm after its last conv (tensorflow/tpu before February 2021,
            tensorflow/tpu#913; `spinenet_tf.maskrcnn.RPNHead`).
        endpoints_num_filters: a backbone override the file needs (None:
            the variant's).
        aggregation: classifier pooling ("all" levels for the model zoo).
        loadable: False where this project cannot build the family yet.
        notes: quirks of the released file.
    """

    name: str
    url: str
    source: str
    family: str
    variant: str
    image_size: int
    metric: str
    published: float
    published_params_m: float
    recipe: str
    activation: str
    norm_momentum: float = 0.997
    norm_epsilon: float = 1e-4
    num_classes: int = 91
    head_num_filters: Optional[int] = None
    head_num_convs: Optional[int] = None
    anchor_size: Optional[float] = None
    endpoints_num_filters: Optional[int] = None
    aggregation: str = "top"
    rpn_norm_each_conv: bool = True
    loadable: bool = True
    notes: str = ""


def _retinanet(name, variant, size, ap, params, recipe, activation, archive,
               anchor_size=3.0, **kwargs):
    return CatalogEntry(
        name=name, url=f"{ZOO}/retinanet/{archive}.tar.gz", source=TPU_MODEL_ZOO,
        family="retinanet", variant=variant, image_size=size, metric="COCO box AP",
        published=ap, published_params_m=params, recipe=recipe,
        activation=activation, anchor_size=anchor_size, **kwargs)


def _classifier(name, variant, top1, params, recipe, activation, archive):
    return CatalogEntry(
        name=name, url=f"{ZOO}/classification/{archive}.tar.gz",
        source=TPU_MODEL_ZOO, family="classifier", variant=variant,
        image_size=224, metric="ImageNet top-1", published=top1,
        published_params_m=params, recipe=recipe, activation=activation,
        norm_momentum=0.9, norm_epsilon=1e-5, num_classes=1001, aggregation="all",
        notes="Trained at 224 px; this project's SpineNet needs sides that "
              "are multiples of 128, so it runs these at 256 (or 128, 384, ...).")


def _maskrcnn(name, variant, size, ap, params, recipe, activation, archive,
              anchor_size=3.0, **kwargs):
    return CatalogEntry(
        name=name, url=f"{ZOO}/maskrcnn/{archive}.tar.gz", source=TPU_MODEL_ZOO,
        family="maskrcnn", variant=variant, image_size=size, metric="COCO box AP",
        published=ap, published_params_m=params, recipe=recipe,
        activation=activation, norm_momentum=0.99, norm_epsilon=1e-3,
        anchor_size=anchor_size, **kwargs)


RELU_350 = "350 epochs, relu, no stochastic depth"
TRUNCATED = ("The data file was first published truncated (tensorflow/tpu#775); "
             "a truncated file is refused, naming the first tensor it cannot read.")
BEST = "stochastic depth and swish, longer schedule"
BEST_CLS = "stochastic depth, swish and label smoothing"

ENTRIES = (
    _retinanet("retinanet-spinenet-49s", "spinenet-49s", 640, 39.5, 11.9, RELU_350,
               "relu", "spinenet-49S", head_num_filters=128,
               endpoints_num_filters=256,
               notes="The released file has 256 endpoint channels, not the "
                     "variant's 128 (tensorflow/tpu#767)."),
    _retinanet("retinanet-spinenet-49", "spinenet-49", 640, 42.8, 28.5, RELU_350,
               "relu", "spinenet-49"),
    _retinanet("retinanet-spinenet-96", "spinenet-96", 1024, 46.7, 43.0, RELU_350,
               "relu", "spinenet-96"),
    _retinanet("retinanet-spinenet-143", "spinenet-143", 1280, 48.0, 67.0, RELU_350,
               "relu", "spinenet-143", anchor_size=4.0),
    _retinanet("retinanet-spinenet-49s-best", "spinenet-49s", 640, 41.5, 11.9, BEST,
               "swish", "spinenet-49S-best", head_num_filters=128,
               endpoints_num_filters=256,
               notes="Endpoint channels as the 49S file above (tensorflow/tpu#767)."),
    _retinanet("retinanet-spinenet-49-best", "spinenet-49", 640, 44.3, 28.5, BEST,
               "swish", "spinenet-49-best"),
    _retinanet("retinanet-spinenet-96-best", "spinenet-96", 1024, 48.5, 43.0, BEST,
               "swish", "spinenet-96-best"),
    _retinanet("retinanet-spinenet-143-best", "spinenet-143", 1280, 50.6, 67.0, BEST,
               "swish", "spinenet-143-best", anchor_size=4.0),
    _retinanet("retinanet-spinenet-190-best", "spinenet-190", 1280, 52.0, 163.6, BEST,
               "swish", "spinenet-190-best", anchor_size=4.0, head_num_filters=512,
               head_num_convs=7),
    _retinanet("retinanet-spinenet-mobile-49-tpu", "spinenet-mobile-49", 384, 28.6,
               2.34, "600 epochs, swish", "swish", "spinenetmbconv-49-best",
               head_num_filters=48,
               notes="tensorflow/tpu's spinenet_mbconv.py: its squeeze-excitation "
                     "uses swish inside and a sigmoid gate."),
    CatalogEntry(
        name="retinanet-spinenet-mobile-49", source=MODEL_GARDEN_TF2,
        url=f"{MODEL_GARDEN}/retinanet/spinenet49mobile.tar.gz",
        family="retinanet", variant="spinenet-mobile-49", image_size=384,
        metric="COCO box AP", published=28.1, published_params_m=2.32,
        recipe="Model Garden coco_spinenet49_mobile_tpu, 600 epochs",
        activation="swish",
        norm_momentum=0.99, norm_epsilon=1e-3, head_num_filters=48,
        notes="A TF2 object-based checkpoint, read by its keys (no "
              "tf-models-official needed)."),
    _maskrcnn("maskrcnn-spinenet-49", "spinenet-49", 640, 42.8, 40.8, RELU_350, "relu",
              "spinenet-49"),
    _maskrcnn("maskrcnn-spinenet-96", "spinenet-96", 1024, 46.8, 55.2, RELU_350, "relu",
              "spinenet-96"),
    _maskrcnn("maskrcnn-spinenet-143", "spinenet-143", 1280, 48.7, 79.2, RELU_350,
              "relu", "spinenet-143", notes=TRUNCATED),
    _maskrcnn("maskrcnn-spinenet-190", "spinenet-190", 1536, 52.0, 168.2, BEST, "swish",
              "spinenet-190", anchor_size=5.0, head_num_convs=7, head_num_filters=384,
              rpn_norm_each_conv=False,
              notes=TRUNCATED + " Written before tensorflow/tpu's RPN head was "
                    "renamed (tensorflow/tpu#913): its 7 RPN convs are chained with one "
                    "batch norm per level after the last, which this entry builds "
                    "(rpn_norm_each_conv=False)."),
    _classifier("classifier-spinenet-49", "spinenet-49", 77.0, 22.1, "200 epochs, relu",
                "relu", "spinenet-49-imagenet"),
    _classifier("classifier-spinenet-96", "spinenet-96", 78.2, 36.5, "200 epochs, relu",
                "relu", "spinenet-96-imagenet"),
    _classifier("classifier-spinenet-143", "spinenet-143", 79.0, 60.5,
                "200 epochs, relu", "relu", "spinenet-143-imagenet"),
    _classifier("classifier-spinenet-49-best", "spinenet-49", 78.1, 22.1, BEST_CLS,
                "swish", "spinenet-49-best-imagenet"),
    _classifier("classifier-spinenet-96-best", "spinenet-96", 79.4, 36.5, BEST_CLS,
                "swish", "spinenet-96-best-imagenet"),
    _classifier("classifier-spinenet-143-best", "spinenet-143", 80.1, 60.5, BEST_CLS,
                "swish", "spinenet-143-best-imagenet"),
    _classifier("classifier-spinenet-190-best", "spinenet-190", 80.8, 127.1, BEST_CLS,
                "swish", "spinenet-190-best-imagenet"),
)

CATALOG = {entry.name: entry for entry in ENTRIES}


def get_entry(name):
    """The catalog entry called `name` (case-insensitive)."""
    key = str(name).lower()
    if key not in CATALOG:
        raise ValueError(
            f"Unknown pretrained checkpoint {name!r}; the catalog has "
            f"{sorted(CATALOG)}.")
    return CATALOG[key]


def catalog_table(entries=ENTRIES):
    """The catalog as a text table (what `spinenet-pretrained list` prints)."""
    header = (f"{'name':<34}{'source':<15}{'input':>6}  {'published':<22}"
              f"{'params':>8}  loads")
    lines = [header, "-" * len(header)]
    for e in entries:
        lines.append(
            f"{e.name:<34}{e.source:<15}{e.image_size:>6}  "
            f"{f'{e.metric} {e.published}':<22}{e.published_params_m:>7.1f}M  "
            f"{'yes' if e.loadable else 'not yet'}")
    return "\n".join(lines)
