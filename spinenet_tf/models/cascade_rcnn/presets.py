"""Model Garden's Cascade RCNN-RS on SpineNet (MODEL_GARDEN.md, trained from
scratch, 500 epochs): listed with the recipes of its yaml files, but Model
Garden released no checkpoint of them, so none loads (`loadable=False`)."""

from spinenet_tf.models.cascade_rcnn.cascade_rcnn_config import CascadeRCNNConfig
from spinenet_tf.pretrained.preset import MODEL_GARDEN_TF2, Preset
from spinenet_tf.rcnn.sampling_settings import SamplingSettings

RECIPE = "Model Garden Cascade RCNN-RS, trained from scratch, 500 epochs"
NO_CHECKPOINT = ("Model Garden released no checkpoint (MODEL_GARDEN.md lists the config "
                 "only); train one with configs/cascade_rcnn_spinenet{}_coco.yaml.")


# What Model Garden's `coco_spinenet*_cascadercnn_tpu.yaml` set beside the
# registered `cascadercnn_spinenet_coco` (the family's defaults): anchors of
# 3 scales, a 2-conv RPN, two box stages (foreground IoU 0.6, then 0.7),
# 1000 boxes a class before NMS.
YAML_SETTINGS = dict(num_scales=3, rpn_num_convs=2, cascade_iou_thresholds=[0.7],
                     sampling=SamplingSettings(roi_foreground_iou_threshold=0.6),
                     pre_nms_top_k=1000)


def yaml_recipe(variant, size, anchor_size):
    """The `model:` section of a `coco_spinenet*_cascadercnn_tpu.yaml`:
    `YAML_SETTINGS`, stochastic depth 0.2, swish, synchronised batch norm."""
    return CascadeRCNNConfig(
        backbone=variant, image_size=[size, size], num_classes=91, activation="swish",
        init_stochastic_depth_rate=0.2, use_sync_bn=True, anchor_size=anchor_size,
        **YAML_SETTINGS)


def _model_garden(variant, size, anchor_size, params, box_ap, mask_ap):
    number = variant.split("-")[1]
    return Preset(
        name=f"cascade-rcnn-{variant}", family="cascade_rcnn",
        model=yaml_recipe(variant, size, anchor_size), url=None, source=MODEL_GARDEN_TF2,
        metric="COCO box AP", published=box_ap, published_params_m=params,
        recipe=f"{RECIPE}; COCO mask AP {mask_ap}", loadable=False,
        notes=NO_CHECKPOINT.format(number))


PRESETS = (
    # The 49 yaml is not in the stored copy of tensorflow/models: its recipe
    # here is the 96 / 143 yamls' at 640 px with the anchor size of every
    # SpineNet-49 recipe (3); its parameters equal MODEL_GARDEN.md's 56.4 M.
    _model_garden("spinenet-49", 640, 3.0, 56.4, 46.4, 40.0),
    _model_garden("spinenet-96", 1024, 4.0, 70.8, 50.9, 43.8),
    _model_garden("spinenet-143", 1280, 4.0, 94.9, 51.9, 45.0),
)
