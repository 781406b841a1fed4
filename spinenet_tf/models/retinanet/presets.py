"""The published RetinaNets on SpineNet: the TPU model zoo's TF1 files and
Model Garden's TF2 files, each with the model section that rebuilds the
network its file fits."""

from spinenet_tf.models.retinanet.retinanet_config import RetinaNetConfig
from spinenet_tf.pretrained.preset import MODEL_GARDEN, MODEL_GARDEN_TF2, TPU_MODEL_ZOO, ZOO, Preset

RELU_350 = "350 epochs, relu, no stochastic depth"
BEST = "stochastic depth and swish, longer schedule"


def _model_zoo(name, variant, size, ap, params, recipe, activation, archive,
               anchor_size=3.0, notes="", **settings):
    """A TPU model zoo RetinaNet: its batch norm (0.997 / 1e-4) and flavour."""
    model = RetinaNetConfig(
        backbone=variant, image_size=[size, size], num_classes=91, activation=activation,
        norm_momentum=0.997, norm_epsilon=1e-4, flavor="tpu", anchor_size=anchor_size,
        **settings)
    return Preset(name=name, family="retinanet", model=model,
                  url=f"{ZOO}/retinanet/{archive}.tar.gz", source=TPU_MODEL_ZOO,
                  metric="COCO box AP", published=ap, published_params_m=params,
                  recipe=recipe, notes=notes)


PRESETS = (
    _model_zoo("retinanet-spinenet-49s", "spinenet-49s", 640, 39.5, 11.9, RELU_350, "relu",
               "spinenet-49S", head_num_filters=128, endpoints_num_filters=256,
               notes="The released file has 256 endpoint channels, not the variant's 128 "
                     "(tensorflow/tpu#767)."),
    _model_zoo("retinanet-spinenet-49", "spinenet-49", 640, 42.8, 28.5, RELU_350, "relu",
               "spinenet-49"),
    _model_zoo("retinanet-spinenet-96", "spinenet-96", 1024, 46.7, 43.0, RELU_350, "relu",
               "spinenet-96"),
    _model_zoo("retinanet-spinenet-143", "spinenet-143", 1280, 48.0, 67.0, RELU_350, "relu",
               "spinenet-143", anchor_size=4.0),
    _model_zoo("retinanet-spinenet-49s-best", "spinenet-49s", 640, 41.5, 11.9, BEST, "swish",
               "spinenet-49S-best", head_num_filters=128, endpoints_num_filters=256,
               notes="Endpoint channels as the 49S file above (tensorflow/tpu#767)."),
    _model_zoo("retinanet-spinenet-49-best", "spinenet-49", 640, 44.3, 28.5, BEST, "swish",
               "spinenet-49-best"),
    _model_zoo("retinanet-spinenet-96-best", "spinenet-96", 1024, 48.5, 43.0, BEST, "swish",
               "spinenet-96-best"),
    _model_zoo("retinanet-spinenet-143-best", "spinenet-143", 1280, 50.6, 67.0, BEST, "swish",
               "spinenet-143-best", anchor_size=4.0),
    _model_zoo("retinanet-spinenet-190-best", "spinenet-190", 1280, 52.0, 163.6, BEST,
               "swish", "spinenet-190-best", anchor_size=4.0, head_num_filters=512,
               head_num_convs=7),
    _model_zoo("retinanet-spinenet-mobile-49-tpu", "spinenet-mobile-49", 384, 28.6, 2.34,
               "600 epochs, swish", "swish", "spinenetmbconv-49-best", head_num_filters=48,
               notes="tensorflow/tpu's spinenet_mbconv.py: its squeeze-excitation uses "
                     "swish inside and a sigmoid gate."),
    Preset(
        name="retinanet-spinenet-mobile-49", family="retinanet",
        model=RetinaNetConfig(backbone="spinenet-mobile-49", image_size=[384, 384],
                              num_classes=91, activation="swish", head_num_filters=48),
        url=f"{MODEL_GARDEN}/retinanet/spinenet49mobile.tar.gz", source=MODEL_GARDEN_TF2,
        metric="COCO box AP", published=28.1, published_params_m=2.32,
        recipe="Model Garden coco_spinenet49_mobile_tpu, 600 epochs",
        notes="A TF2 object-based checkpoint, read by its keys (no tf-models-official "
              "needed)."),
)
