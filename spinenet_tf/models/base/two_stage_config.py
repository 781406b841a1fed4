"""The config keys Mask R-CNN and Cascade R-CNN share: anchors, the RPN,
box and mask heads, proposals, sampling and detections (`model:`), and the
two-stage losses (`losses:`)."""

import dataclasses
import typing

from spinenet_tf.config.fields import ConfigError, bounded
from spinenet_tf.ops.anchor_generator import TPU_ASPECT_RATIOS
from spinenet_tf.rcnn.rcnn_losses import RCNNLoss
from spinenet_tf.rcnn.roi_generator import ProposalSettings
from spinenet_tf.rcnn.sampling_settings import SamplingSettings

MODEL_GARDEN_ASPECT_RATIOS = (0.5, 1.0, 2.0)
# Boxes a class keeps before NMS: Model Garden's, and the TPU model zoo's
# `postprocess.pre_nms_num_boxes`.
PRE_NMS_TOP_K = {"model_garden": 5000, "tpu": 1000}


@dataclasses.dataclass
class TwoStageLosses:
    """`losses:` keys of a two-stage detector (Model Garden's names)."""

    rpn_huber_delta: float = bounded(1.0 / 9.0, above=0.0)
    frcnn_huber_delta: float = bounded(1.0, above=0.0)
    rpn_score_weight: float = bounded(1.0, at_least=0.0)
    rpn_box_weight: float = bounded(1.0, at_least=0.0)
    frcnn_class_weight: float = bounded(1.0, at_least=0.0)
    frcnn_box_weight: float = bounded(1.0, at_least=0.0)
    mask_weight: float = bounded(1.0, at_least=0.0)

    def loss_weights(self):
        """The weights by `RCNNLoss` term."""
        return dict(zip(RCNNLoss.TERMS, (
            self.rpn_score_weight, self.rpn_box_weight, self.frcnn_class_weight,
            self.frcnn_box_weight, self.mask_weight)))


@dataclasses.dataclass
class TwoStageSettings:
    """`model:` keys of a two-stage detector: `TwoStageDetector`'s
    arguments, the recipe's values by default. `aspect_ratios` and
    `pre_nms_top_k` null: the flavor's."""

    num_scales: int = bounded(1, at_least=1)
    anchor_size: float = bounded(3.0, above=0.0)
    aspect_ratios: typing.Optional[typing.List[float]] = None
    rpn_num_convs: int = bounded(1, at_least=0)
    rpn_num_filters: int = bounded(256, at_least=1)
    rpn_norm_each_conv: bool = True
    box_num_convs: int = bounded(4, at_least=0)
    box_num_filters: int = bounded(256, at_least=1)
    box_num_fcs: int = bounded(1, at_least=0)
    box_fc_dims: int = bounded(1024, at_least=1)
    mask_num_convs: int = bounded(4, at_least=0)
    mask_num_filters: int = bounded(256, at_least=1)
    use_separable_conv: bool = False
    class_agnostic_boxes: bool = False
    train_proposals: ProposalSettings = dataclasses.field(default_factory=ProposalSettings)
    test_proposals: ProposalSettings = dataclasses.field(
        default_factory=lambda: ProposalSettings(pre_nms_top_k=1000))
    roi_crop_size: int = bounded(7, at_least=1)
    mask_crop_size: int = bounded(14, at_least=1)
    pre_nms_top_k: typing.Optional[int] = bounded(None, at_least=1)
    pre_nms_score_threshold: float = bounded(0.05, at_least=0.0, at_most=1.0)
    nms_iou_threshold: float = bounded(0.5, at_least=0.0, at_most=1.0)
    max_detections: int = bounded(100, at_least=1)
    sampling: SamplingSettings = dataclasses.field(default_factory=SamplingSettings)

    def validate(self, where, experiment):
        super().validate(where, experiment)
        sampling = self.sampling
        if not (sampling.roi_background_iou_low_threshold
                <= sampling.roi_background_iou_high_threshold
                <= sampling.roi_foreground_iou_threshold):
            raise ConfigError(
                f"{where}: model.sampling needs roi_background_iou_low_threshold <= "
                "roi_background_iou_high_threshold <= roi_foreground_iou_threshold; "
                f"received {sampling.roi_background_iou_low_threshold}, "
                f"{sampling.roi_background_iou_high_threshold}, "
                f"{sampling.roi_foreground_iou_threshold}.")

    def detector_arguments(self, losses):
        """`TwoStageDetector`'s keyword arguments for these settings and
        `losses` (flavour-dependent values resolved here, the one place)."""
        tpu = self.flavor == "tpu"
        return dict(
            min_level=self.min_level, max_level=self.max_level, num_scales=self.num_scales,
            aspect_ratios=tuple(self.aspect_ratios or (
                TPU_ASPECT_RATIOS if tpu else MODEL_GARDEN_ASPECT_RATIOS)),
            anchor_size=self.anchor_size, rpn_num_convs=self.rpn_num_convs,
            rpn_num_filters=self.rpn_num_filters, rpn_norm_each_conv=self.rpn_norm_each_conv,
            box_num_convs=self.box_num_convs, box_num_filters=self.box_num_filters,
            box_num_fcs=self.box_num_fcs, box_fc_dims=self.box_fc_dims,
            mask_num_convs=self.mask_num_convs, mask_num_filters=self.mask_num_filters,
            use_separable_conv=self.use_separable_conv,
            class_agnostic_boxes=self.class_agnostic_boxes,
            kernel_regularizer=losses.kernel_regularizer(),
            train_proposals=self.train_proposals, test_proposals=self.test_proposals,
            roi_crop_size=self.roi_crop_size, mask_crop_size=self.mask_crop_size,
            pre_nms_top_k=self.pre_nms_top_k or PRE_NMS_TOP_K[self.flavor],
            pre_nms_score_threshold=self.pre_nms_score_threshold,
            nms_iou_threshold=self.nms_iou_threshold, max_detections=self.max_detections,
            pixel_inclusive_boxes=tpu, sampling=self.sampling,
            loss_weights=losses.loss_weights(), rpn_huber_delta=losses.rpn_huber_delta,
            frcnn_huber_delta=losses.frcnn_huber_delta)


def build_two_stage_detector(model_class, config, losses, name):
    """`model_class` (a `TwoStageDetector`) built from a family's `model:`
    section `config` and its `losses`."""
    return model_class(config.build_backbone(losses.kernel_regularizer()), config.num_classes,
                       **config.detector_arguments(losses), name=name)
