"""The published RetinaNets on SpineNet: the TPU model zoo's TF1 files and
Model Garden's TF2 files, each with the model section that rebuilds the
network its file fits."""

from spinenet_tf.models.retinanet.retinanet_config import RetinaNetConfig
from spinenet_tf.pretrained.preset import MODEL_GARDEN, MODEL_GARDEN_TF2, TPU_MODEL_ZOO, ZOO, Preset

RELU_350 = "350 epochs, relu, no stochastic depth"
BEST = "stochastic depth and swish, longer schedule"
# Training lengths, tensorflow/tpu's configs/spinenet/*_retinanet.yaml: the
# plain files' (relu) and the "-best" files' (swish, stochastic depth).
RELU_STEPS, BEST_STEPS = 162050, 231500
# Model Garden's: 500 or 600 epochs of 462 steps (batch 256).
MODEL_GARDEN_500_EPOCHS, MODEL_GARDEN_600_EPOCHS = 231000, 277200


def _model_zoo(name, variant, size, ap, params, recipe, activation, archive, total_steps,
               anchor_size=3.0, notes="", **settings):
    """A TPU model zoo RetinaNet: its batch norm (0.997 / 1e-4) and flavour."""
    model = RetinaNetConfig(
        backbone=variant, image_size=[size, size], num_classes=91, activation=activation,
        norm_momentum=0.997, norm_epsilon=1e-4, flavor="tpu", anchor_size=anchor_size,
        **settings)
    return Preset(name=name, family="retinanet", model=model,
                  url=f"{ZOO}/retinanet/{archive}.tar.gz", source=TPU_MODEL_ZOO,
                  metric="COCO box AP", published=ap, published_params_m=params,
                  recipe=recipe, total_steps=total_steps, notes=notes)


def _model_garden(variant, size, ap, params):
    """Model Garden's TF2 RetinaNet on a SpineNet (`coco_spinenet*_tpu.yaml`:
    the registered `retinanet_spinenet_coco`, swish, stochastic depth 0.2,
    500 epochs), read by its keys."""
    number = variant.split("-")[1]
    model = RetinaNetConfig(backbone=variant, image_size=[size, size], num_classes=91,
                            activation="swish", init_stochastic_depth_rate=0.2,
                            use_sync_bn=True)
    return Preset(name=f"retinanet-{variant}-i{size}", family="retinanet", model=model,
                  url=f"{MODEL_GARDEN}/spinenet/{variant}-i{size}.tar.gz",
                  source=MODEL_GARDEN_TF2, metric="COCO box AP", published=ap,
                  published_params_m=params,
                  recipe=f"Model Garden coco_spinenet{number}_tpu, 500 epochs, swish, "
                         "stochastic depth 0.2",
                  total_steps=MODEL_GARDEN_500_EPOCHS,
                  notes="A TF2 object-based checkpoint, read by its keys (no "
                        "tf-models-official needed).")


PRESETS = (
    _model_zoo("retinanet-spinenet-49s", "spinenet-49s", 640, 39.5, 11.9, RELU_350, "relu",
               "spinenet-49S", RELU_STEPS, head_num_filters=128, endpoints_num_filters=256,
               notes="The released file has 256 endpoint channels, not the variant's 128 "
                     "(tensorflow/tpu#767)."),
    _model_zoo("retinanet-spinenet-49", "spinenet-49", 640, 42.8, 28.5, RELU_350, "relu",
               "spinenet-49", RELU_STEPS),
    _model_zoo("retinanet-spinenet-96", "spinenet-96", 1024, 46.7, 43.0, RELU_350, "relu",
               "spinenet-96", RELU_STEPS),
    _model_zoo("retinanet-spinenet-143", "spinenet-143", 1280, 48.0, 67.0, RELU_350, "relu",
               "spinenet-143", RELU_STEPS, anchor_size=4.0),
    _model_zoo("retinanet-spinenet-49s-best", "spinenet-49s", 640, 41.5, 11.9, BEST, "swish",
               "spinenet-49S-best", BEST_STEPS, head_num_filters=128,
               endpoints_num_filters=256,
               notes="Endpoint channels as the 49S file above (tensorflow/tpu#767)."),
    _model_zoo("retinanet-spinenet-49-best", "spinenet-49", 640, 44.3, 28.5, BEST, "swish",
               "spinenet-49-best", BEST_STEPS),
    _model_zoo("retinanet-spinenet-96-best", "spinenet-96", 1024, 48.5, 43.0, BEST, "swish",
               "spinenet-96-best", BEST_STEPS),
    _model_zoo("retinanet-spinenet-143-best", "spinenet-143", 1280, 50.6, 67.0, BEST, "swish",
               "spinenet-143-best", BEST_STEPS, anchor_size=4.0),
    _model_zoo("retinanet-spinenet-190-best", "spinenet-190", 1280, 52.0, 163.6, BEST,
               "swish", "spinenet-190-best", 185200, anchor_size=4.0, head_num_filters=512,
               head_num_convs=7),
    _model_zoo("retinanet-spinenet-mobile-49-tpu", "spinenet-mobile-49", 384, 28.6, 2.34,
               "600 epochs, swish", "swish", "spinenetmbconv-49-best", 277800,
               head_num_filters=48,
               notes="tensorflow/tpu's spinenet_mbconv.py: its squeeze-excitation uses "
                     "swish inside and a sigmoid gate."),
    Preset(
        name="retinanet-spinenet-mobile-49", family="retinanet",
        model=RetinaNetConfig(backbone="spinenet-mobile-49", image_size=[384, 384],
                              num_classes=91, activation="swish", head_num_filters=48),
        url=f"{MODEL_GARDEN}/retinanet/spinenet49mobile.tar.gz", source=MODEL_GARDEN_TF2,
        metric="COCO box AP", published=28.1, published_params_m=2.32,
        recipe="Model Garden coco_spinenet49_mobile_tpu, 600 epochs",
        total_steps=MODEL_GARDEN_600_EPOCHS,
        notes="A TF2 object-based checkpoint, read by its keys (no tf-models-official "
              "needed)."),
    _model_garden("spinenet-49", 640, 44.2, 28.5),
    _model_garden("spinenet-96", 1024, 48.5, 43.0),
    _model_garden("spinenet-143", 1280, 50.0, 67.0),
)
