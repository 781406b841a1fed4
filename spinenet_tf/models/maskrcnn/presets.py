"""The TPU model zoo's published Mask R-CNNs on SpineNet, each with the
model section that rebuilds the network its file fits."""

from spinenet_tf.models.maskrcnn.maskrcnn_config import MaskRCNNConfig
from spinenet_tf.pretrained.preset import TPU_MODEL_ZOO, ZOO, Preset

RELU_350 = "350 epochs, relu, no stochastic depth"
BEST = "stochastic depth and swish, longer schedule"
TRUNCATED = ("The data file was first published truncated (tensorflow/tpu#775); "
             "a truncated file is refused, naming the first tensor it cannot read.")


# Training lengths, tensorflow/tpu's configs/spinenet/*_mrcnn.yaml.
RELU_STEPS, SPINENET_190_STEPS = 162050, 187600


def _model_zoo(name, variant, size, ap, params, recipe, activation, archive, notes="",
               head_num_convs=None, head_num_filters=None, total_steps=RELU_STEPS,
               **settings):
    """A TPU model zoo Mask R-CNN: its batch norm (0.99 / 1e-3, the Mask
    R-CNN yamls'), flavour, and heads of `head_num_convs` x
    `head_num_filters` (the RPN tower too) where the recipe widens them."""
    if head_num_convs is not None:
        settings.update(rpn_num_convs=head_num_convs, box_num_convs=head_num_convs,
                        mask_num_convs=head_num_convs)
    if head_num_filters is not None:
        settings.update(rpn_num_filters=head_num_filters, box_num_filters=head_num_filters,
                        mask_num_filters=head_num_filters)
    model = MaskRCNNConfig(
        backbone=variant, image_size=[size, size], num_classes=91, activation=activation,
        norm_momentum=0.99, norm_epsilon=1e-3, flavor="tpu", **settings)
    return Preset(name=name, family="maskrcnn", model=model,
                  url=f"{ZOO}/maskrcnn/{archive}.tar.gz", source=TPU_MODEL_ZOO,
                  metric="COCO box AP", published=ap, published_params_m=params,
                  recipe=recipe, total_steps=total_steps, notes=notes)


PRESETS = (
    _model_zoo("maskrcnn-spinenet-49", "spinenet-49", 640, 42.8, 40.8, RELU_350, "relu",
               "spinenet-49"),
    _model_zoo("maskrcnn-spinenet-96", "spinenet-96", 1024, 46.8, 55.2, RELU_350, "relu",
               "spinenet-96"),
    _model_zoo("maskrcnn-spinenet-143", "spinenet-143", 1280, 48.7, 79.2, RELU_350, "relu",
               "spinenet-143", notes=TRUNCATED),
    _model_zoo("maskrcnn-spinenet-190", "spinenet-190", 1536, 52.0, 168.2, BEST, "swish",
               "spinenet-190", anchor_size=5.0, head_num_convs=7, head_num_filters=384,
               rpn_norm_each_conv=False, total_steps=SPINENET_190_STEPS,
               notes=TRUNCATED + " Written before tensorflow/tpu's RPN head was renamed "
                     "(tensorflow/tpu#913): its 7 RPN convs are chained with one batch norm "
                     "per level after the last, which this preset builds "
                     "(rpn_norm_each_conv=False)."),
)
