"""RetinaNet on SpineNet: the model, its head, anchor labeler, loss and
detection generator, the papers' settings per variant, its config sections,
presets and checkpoint names; registered as the `retinanet` family."""

from spinenet_tf import registry
from spinenet_tf.models.base.detection_task import DetectionTask
from spinenet_tf.models.retinanet import checkpoint_names
from spinenet_tf.models.retinanet.anchor_labeler import AnchorLabeler
from spinenet_tf.models.retinanet.model_garden_twin import (
    build_model_garden_retinanet,
    load_model_garden_retinanet_checkpoint,
    transfer_model_garden_retinanet_weights,
)
from spinenet_tf.models.retinanet.multilevel_detection_generator import MultilevelDetectionGenerator
from spinenet_tf.models.retinanet.presets import PRESETS
from spinenet_tf.models.retinanet.retinanet import RetinaNet
from spinenet_tf.models.retinanet.retinanet_config import RetinaNetConfig, RetinaNetLosses
from spinenet_tf.models.retinanet.retinanet_head import RetinaNetHead
from spinenet_tf.models.retinanet.retinanet_loss import RetinaNetLoss
from spinenet_tf.models.retinanet.variant_settings import (
    VARIANT_SETTINGS,
    VariantSettings,
    variant_settings,
)

FAMILY = registry.register_family(registry.Family(
    name="retinanet", model_class=RetinaNet, config_class=RetinaNetConfig,
    losses_class=RetinaNetLosses, task_class=DetectionTask,
    description="RetinaNet: one-stage detector, focal loss (Lin et al. 2017)",
    presets=PRESETS, model_zoo_names=checkpoint_names.model_zoo_names,
    model_garden_names=checkpoint_names.model_garden_names,
    model_garden_twin_loader=load_model_garden_retinanet_checkpoint,
    paper_models={name: registry.PaperModel(s.reference_params, s.published_params,
                                            s.published_macs)
                  for name, s in VARIANT_SETTINGS.items()}))

__all__ = ["AnchorLabeler", "FAMILY", "MultilevelDetectionGenerator", "RetinaNet",
           "RetinaNetConfig", "RetinaNetHead", "RetinaNetLoss", "RetinaNetLosses",
           "VARIANT_SETTINGS", "VariantSettings", "build_model_garden_retinanet",
           "transfer_model_garden_retinanet_weights", "variant_settings"]
