"""RetinaNet's sections of an experiment: `model:` (backbone, head, anchors,
post-processing) and `losses:`; the one place a RetinaNet is built from
settings."""

import dataclasses
import typing

from spinenet_tf.backbones.variants import get_variant
from spinenet_tf.config.fields import ConfigError, bounded
from spinenet_tf.config.sections import LossesConfig, ModelConfig
from spinenet_tf.models.retinanet.retinanet import RetinaNet
from spinenet_tf.models.retinanet.variant_settings import VARIANT_SETTINGS
from spinenet_tf.ops.anchor_generator import TPU_ASPECT_RATIOS

MODEL_GARDEN_ASPECT_RATIOS = (0.5, 1.0, 2.0)
# The keys a variant's paper settings fill when null.
HEAD_KEYS = ("head_num_convs", "head_num_filters", "use_separable_conv", "anchor_size")


@dataclasses.dataclass
class RetinaNetLosses(LossesConfig):
    """`losses:` of a RetinaNet: focal loss for classes, Huber for boxes."""

    focal_alpha: float = bounded(0.25, at_least=0.0, at_most=1.0)
    focal_gamma: float = bounded(1.5, at_least=0.0)
    huber_delta: float = bounded(0.1, above=0.0)
    box_loss_weight: float = bounded(50.0, at_least=0.0)


@dataclasses.dataclass
class RetinaNetConfig(ModelConfig):
    """`model:` of `type: retinanet`. Null head and anchor keys take the
    paper's settings for the backbone variant (`variant_settings`)."""

    type: str = "retinanet"
    head_num_convs: typing.Optional[int] = bounded(None, at_least=0)
    head_num_filters: typing.Optional[int] = bounded(None, at_least=1)
    use_separable_conv: typing.Optional[bool] = None
    anchor_size: typing.Optional[float] = bounded(None, above=0.0)
    num_scales: int = bounded(3, at_least=1)
    # null: the flavor's order ([0.5, 1.0, 2.0]; "tpu": [1.0, 2.0, 0.5]).
    aspect_ratios: typing.Optional[typing.List[float]] = None
    match_threshold: float = bounded(0.5, at_least=0.0, at_most=1.0)
    unmatched_threshold: float = bounded(0.5, at_least=0.0, at_most=1.0)
    pre_nms_top_k: int = bounded(5000, at_least=1)
    pre_nms_score_threshold: float = bounded(0.05, at_least=0.0, at_most=1.0)
    nms_iou_threshold: float = bounded(0.5, at_least=0.0, at_most=1.0)
    max_detections: int = bounded(100, at_least=1)
    # Quantization-aware fine-tuning for int8 TFLite: train the inference
    # form of `init_from`'s model (batch norm folded) with fake-quantized
    # weights and activations (docs/export.md).
    quantization_aware: bool = False

    MOVED_KEYS: typing.ClassVar[typing.Dict[str, str]] = {
        "maskrcnn_options": "belongs to Mask R-CNN (model.type: maskrcnn), whose settings "
                            "now sit directly under model:",
    }

    def validate(self, where, experiment):
        super().validate(where, experiment)
        if self.unmatched_threshold > self.match_threshold:
            raise ConfigError(
                f"{where}: model.unmatched_threshold ({self.unmatched_threshold}) must not "
                f"exceed model.match_threshold ({self.match_threshold}).")
        if not self.quantization_aware:
            return
        if not self.init_from:
            raise ConfigError(
                f"{where}: model.quantization_aware fine-tunes a trained float "
                "model: set model.init_from to its train.py folder.")
        if experiment.trainer.mixed_precision in ("bfloat16", "float16"):
            raise ConfigError(
                f"{where}: model.quantization_aware trains in float32 (fake "
                "quantization simulates int8 in float32); received "
                f"trainer.mixed_precision {experiment.trainer.mixed_precision!r} (set it "
                "to null or auto).")

    def trains_quantization_aware(self):
        return self.quantization_aware

    def build(self, losses=None, name=None):
        """The RetinaNet these settings describe, with fresh weights."""
        losses = losses or RetinaNetLosses()
        regularizer = losses.kernel_regularizer()
        variant = get_variant(self.backbone).name
        paper = VARIANT_SETTINGS.get(variant)
        unset = [key for key in HEAD_KEYS if getattr(self, key) is None]
        if paper is None and unset:
            raise ValueError(
                f"No paper RetinaNet for {variant} (the variants with one: "
                f"{list(VARIANT_SETTINGS)}); set model.{', model.'.join(unset)}.")

        def setting(value, key):
            return getattr(paper, key) if value is None else value

        tpu = self.flavor == "tpu"
        return RetinaNet(
            self.build_backbone(regularizer), self.num_classes,
            min_level=self.min_level, max_level=self.max_level, num_scales=self.num_scales,
            aspect_ratios=tuple(self.aspect_ratios or (
                TPU_ASPECT_RATIOS if tpu else MODEL_GARDEN_ASPECT_RATIOS)),
            anchor_size=setting(self.anchor_size, "anchor_size"),
            head_num_convs=setting(self.head_num_convs, "head_num_convs"),
            head_num_filters=setting(self.head_num_filters, "head_num_filters"),
            use_separable_conv=setting(self.use_separable_conv, "use_separable_conv"),
            kernel_regularizer=regularizer, focal_alpha=losses.focal_alpha,
            focal_gamma=losses.focal_gamma, huber_delta=losses.huber_delta,
            box_loss_weight=losses.box_loss_weight, match_threshold=self.match_threshold,
            unmatched_threshold=self.unmatched_threshold, pre_nms_top_k=self.pre_nms_top_k,
            pre_nms_score_threshold=self.pre_nms_score_threshold,
            nms_iou_threshold=self.nms_iou_threshold, max_detections=self.max_detections,
            pixel_inclusive_boxes=tpu, name=name or "retinanet")
