"""The two-stage (R-CNN) detector that Mask R-CNN and Cascade R-CNN are:
tf-models-official's `MaskRCNNModel` (its cascade path included) in
Keras 3 layers."""

import dataclasses

import keras
from keras import ops

from spinenet_tf.backbones.head_interface import backbone_levels, backbone_norm_activation
from spinenet_tf.models.base.family_model import FamilyModel
from spinenet_tf.ops.anchor_generator import AnchorGenerator, flatten_multilevel
from spinenet_tf.ops.box_ops import clip_boxes, decode_boxes, detections_to_original, encode_boxes
from spinenet_tf.ops.distribution import per_replica_share
from spinenet_tf.rcnn.box_head import BoxHead
from spinenet_tf.rcnn.detection_generator import DetectionGenerator
from spinenet_tf.rcnn.mask_head import MaskHead
from spinenet_tf.rcnn.mask_sampler import MaskSampler
from spinenet_tf.rcnn.rcnn_losses import RCNNLoss
from spinenet_tf.rcnn.roi_aligner import MultilevelROIAligner
from spinenet_tf.rcnn.roi_generator import MultilevelROIGenerator
from spinenet_tf.rcnn.roi_sampler import ROISampler
from spinenet_tf.rcnn.rpn_head import RPNHead
from spinenet_tf.rcnn.rpn_labeler import RPNLabeler
from spinenet_tf.rcnn.sampling_settings import SamplingSettings

GROUND_TRUTH = ("boxes", "classes", "masks")
# The box coder weights of each box stage (Model Garden's
# `_cascade_layer_to_weights`): later stages regress smaller deltas.
STAGE_BOX_CODER_WEIGHTS = ((10.0, 10.0, 5.0, 5.0), (20.0, 20.0, 10.0, 10.0),
                           (30.0, 30.0, 15.0, 15.0))


class TwoStageDetector(FamilyModel, keras.Model):
    """backbone -> `RPNHead` on every level -> `MultilevelROIGenerator`
    (proposals) -> box stages, each `MultilevelROIAligner` (7x7) ->
    `BoxHead` -> boxes refined for the next stage -> `DetectionGenerator`
    (per-class NMS) -> `MultilevelROIAligner` (14x14) on the detections ->
    `MaskHead` (28x28 mask of each detection's class).

    One box stage is Mask R-CNN. More (`cascade_iou_thresholds`, the IoU of
    each later stage's training targets) are Cascade R-CNN: each stage's
    class-agnostic boxes are the next stage's ROIs, coded with larger
    weights (`STAGE_BOX_CODER_WEIGHTS`), and with `class_ensemble` the
    detections are scored by the mean of every stage's class logits, as
    Model Garden's cascade does.

    Inference: `model(images, image_shape=None)` returns a dict:
    `rpn_scores`, `rpn_boxes` (per level), `rois` [B, P, 4] (the last
    stage's ROIs), `class_logits` [B, P, C] (ensembled where asked),
    `box_deltas` [B, P, 4C] (or [B, P, 4] class-agnostic), the four
    detection tensors and `detection_masks` [B, K, 28, 28] (probabilities,
    in each detection box); a cascade adds `stage_rois`,
    `stage_class_logits` and `stage_box_deltas` (lists, one per stage).
    `image_shape` [B, 2] is the (height, width) of each image's content
    inside the padded input (default: the whole input).

    Training: `model(inputs, training=True)` with `inputs` a dict of
    `images`, optional `image_shape` and the ground truth `boxes` [B, M, 4]
    (pixels of the input), `classes` [B, M] (-1 for padding) and `masks`
    [B, M, S, S] (each box's mask cropped to the box, the reference's 112 x
    112) returns the raw outputs beside their targets: RPN targets
    (`RPNLabeler`), each stage's sampled ROIs (`ROISampler`; `stages`, and
    the first stage's at the top level) and mask targets (`MaskSampler`,
    on the last stage's ROIs); `compute_loss` turns them into the
    reference's losses (`RCNNLoss`), so `fit` trains on such dicts.

    Args:
        backbone: a Keras model returning {"P{level}": features}.
        num_classes: classes including background (91 for COCO).
        min_level, max_level: levels to use; default the backbone's.
        num_scales, aspect_ratios, anchor_size: RPN anchors (the recipe: 1,
            (0.5, 1, 2), 3).
        rpn_num_convs, rpn_num_filters: the RPN tower (1 x 256).
        rpn_norm_each_conv: False for the TPU model zoo's 2020 RPN layout
            (`RPNHead`'s `norm_each_conv`).
        box_num_convs, box_num_filters, box_num_fcs, box_fc_dims: each box
            head (4 x 256 convs, 1 x 1024 fc).
        mask_num_convs, mask_num_filters: the mask head (4 x 256).
        use_separable_conv: separable convs in all heads.
        class_agnostic_boxes: one box per ROI instead of one per class
            (required with more than one stage).
        cascade_iou_thresholds: the foreground IoU of the box stages after
            the first (Cascade R-CNN: (0.6, 0.7)); empty for Mask R-CNN.
        class_ensemble: score detections by the mean of the stages' class
            logits (Cascade RCNN-RS), else by the last stage's.
        activation: of the heads; default the backbone's.
        kernel_regularizer: for the heads.
        train_proposals, test_proposals: `ProposalSettings` (or dicts).
        roi_crop_size, mask_crop_size: ROI align sizes (7, 14).
        pre_nms_top_k, pre_nms_score_threshold, nms_iou_threshold,
            max_detections: see `DetectionGenerator`.
        pixel_inclusive_boxes: proposals and detections decoded and clipped
            in the TPU model zoo's box convention (`spinenet_tf.ops.box_ops`;
            the TPU flavour sets it). Training targets keep Model Garden's.
        sampling: `SamplingSettings` (or a dict) of the training targets.
        loss_weights: the five losses' weights (`RCNNLoss`; default 1).
        rpn_huber_delta, frcnn_huber_delta: the box losses' Huber deltas.
        preprocessor: an `ImagePreprocessor` (default: ImageNet statistics,
            letterboxed to the backbone's input size): the input contract
            that the data pipelines, evaluation and serving call.

    `dtype` (a Keras dtype policy, default the global one) is the heads'.
    `inference_model(model, precision)` folds the backbone's batch norms
    (the heads keep theirs) and computes backbone and heads in `precision`;
    outputs are float32 in every policy.
    """

    default_name = "two_stage_detector"

    def __init__(self, backbone, num_classes, *, min_level=None, max_level=None,
                 num_scales=1, aspect_ratios=(0.5, 1.0, 2.0), anchor_size=3.0,
                 rpn_num_convs=1, rpn_num_filters=256, rpn_norm_each_conv=True,
                 box_num_convs=4, box_num_filters=256, box_num_fcs=1, box_fc_dims=1024,
                 mask_num_convs=4, mask_num_filters=256, use_separable_conv=False,
                 class_agnostic_boxes=False, cascade_iou_thresholds=(), class_ensemble=False,
                 activation=None, kernel_regularizer=None, train_proposals=None,
                 test_proposals=None, roi_crop_size=7, mask_crop_size=14,
                 pre_nms_top_k=5000, pre_nms_score_threshold=0.05, nms_iou_threshold=0.5,
                 max_detections=100, pixel_inclusive_boxes=False, sampling=None,
                 loss_weights=None, rpn_huber_delta=1.0 / 9.0, frcnn_huber_delta=1.0,
                 preprocessor=None, name=None, **kwargs):
        # One function, keras-hub's layout (the parts, then their config):
        # split, the arguments would travel through helpers untouched.
        super().__init__(name=name or self.default_name, **kwargs)
        self.backbone = backbone
        self.num_classes = int(num_classes)
        self.min_level, self.max_level = self._levels(backbone, min_level, max_level)
        cascade_iou_thresholds = self._checked_cascade(cascade_iou_thresholds,
                                                       class_agnostic_boxes)
        self.preprocessor = preprocessor
        if preprocessor is None and None not in tuple(backbone.input.shape[1:3]):
            _, self.preprocessor, _ = self.task_inputs(backbone, None, None)
        norm = backbone_norm_activation(backbone)
        heads = dict(norm.head_kwargs(), activation=activation or norm.activation,
                     kernel_regularizer=kernel_regularizer, dtype=self.dtype_policy)
        self.anchor_generator = AnchorGenerator(
            self.min_level, self.max_level, num_scales, aspect_ratios, anchor_size)
        self.rpn_head = RPNHead(
            self.min_level, self.max_level, self.anchor_generator.anchors_per_location,
            num_convs=rpn_num_convs, num_filters=rpn_num_filters,
            use_separable_conv=use_separable_conv, norm_each_conv=rpn_norm_each_conv,
            name="rpn_head", **heads)
        self.roi_generator = MultilevelROIGenerator(
            train_proposals, test_proposals, pixel_inclusive_boxes=pixel_inclusive_boxes,
            name="roi_generator")
        self.roi_aligner = MultilevelROIAligner(roi_crop_size, name="roi_aligner")
        self.box_heads = [
            BoxHead(self.num_classes, num_convs=box_num_convs, num_filters=box_num_filters,
                    use_separable_conv=use_separable_conv, num_fcs=box_num_fcs,
                    fc_dims=box_fc_dims, class_agnostic_boxes=class_agnostic_boxes,
                    name="box_head" if stage == 0 else f"box_head_{stage + 1}", **heads)
            for stage in range(1 + len(cascade_iou_thresholds))]
        self.detection_generator = DetectionGenerator(
            pre_nms_top_k, pre_nms_score_threshold, nms_iou_threshold, max_detections,
            box_coder_weights=STAGE_BOX_CODER_WEIGHTS[len(cascade_iou_thresholds)],
            pixel_inclusive_boxes=pixel_inclusive_boxes)
        self.mask_roi_aligner = MultilevelROIAligner(mask_crop_size, name="mask_roi_aligner")
        self.mask_head = MaskHead(
            self.num_classes, num_convs=mask_num_convs, num_filters=mask_num_filters,
            use_separable_conv=use_separable_conv, name="mask_head", **heads)
        sampling = SamplingSettings.of(sampling)
        self._build_samplers(sampling, cascade_iou_thresholds, mask_crop_size)
        self.detection_loss = RCNNLoss(
            sampling.rpn_samples_per_image, rpn_huber_delta=rpn_huber_delta,
            frcnn_huber_delta=frcnn_huber_delta, class_agnostic_boxes=class_agnostic_boxes,
            weights=loss_weights)
        self.loss_trackers = {term: keras.metrics.Mean(name=term) for term in RCNNLoss.TERMS}
        # === Config === (every argument, as get_config returns it)
        self._config = dict(
            num_classes=self.num_classes, min_level=self.min_level, max_level=self.max_level,
            num_scales=num_scales, aspect_ratios=tuple(aspect_ratios), anchor_size=anchor_size,
            rpn_num_convs=rpn_num_convs, rpn_num_filters=rpn_num_filters,
            rpn_norm_each_conv=bool(rpn_norm_each_conv), box_num_convs=box_num_convs,
            box_num_filters=box_num_filters, box_num_fcs=box_num_fcs, box_fc_dims=box_fc_dims,
            mask_num_convs=mask_num_convs, mask_num_filters=mask_num_filters,
            use_separable_conv=use_separable_conv, class_agnostic_boxes=class_agnostic_boxes,
            cascade_iou_thresholds=cascade_iou_thresholds, class_ensemble=bool(class_ensemble),
            activation=heads["activation"],
            kernel_regularizer=keras.regularizers.serialize(
                keras.regularizers.get(kernel_regularizer)),
            train_proposals=self.roi_generator.get_config()["train"],
            test_proposals=self.roi_generator.get_config()["test"],
            roi_crop_size=roi_crop_size, mask_crop_size=mask_crop_size,
            pre_nms_top_k=pre_nms_top_k, pre_nms_score_threshold=pre_nms_score_threshold,
            nms_iou_threshold=nms_iou_threshold, max_detections=max_detections,
            pixel_inclusive_boxes=bool(pixel_inclusive_boxes),
            sampling=dataclasses.asdict(sampling), loss_weights=self.detection_loss.weights,
            rpn_huber_delta=float(rpn_huber_delta), frcnn_huber_delta=float(frcnn_huber_delta))
        self._build_from_backbone()

    @staticmethod
    def _checked_cascade(cascade_iou_thresholds, class_agnostic_boxes):
        """The cascade's IoUs as a tuple; an error for more stages than the
        reference has box coder weights for, or a cascade of class-specific
        boxes."""
        cascade_iou_thresholds = tuple(float(t) for t in cascade_iou_thresholds)
        if len(cascade_iou_thresholds) >= len(STAGE_BOX_CODER_WEIGHTS):
            raise ValueError(
                f"At most {len(STAGE_BOX_CODER_WEIGHTS) - 1} cascade_iou_thresholds (the "
                f"reference's box coder weights cover {len(STAGE_BOX_CODER_WEIGHTS)} "
                f"stages); received {list(cascade_iou_thresholds)}.")
        if cascade_iou_thresholds and not class_agnostic_boxes:
            raise ValueError(
                "A cascade of box stages refines one box per ROI: set "
                f"class_agnostic_boxes=True (received cascade_iou_thresholds="
                f"{list(cascade_iou_thresholds)} with class-specific boxes).")
        return cascade_iou_thresholds

    @staticmethod
    def _levels(backbone, min_level, max_level):
        available = backbone_levels(backbone)
        min_level, max_level = int(min_level or available[0]), int(max_level or available[-1])
        missing = [f"P{level}" for level in range(min_level, max_level + 1)
                   if level not in available]
        if missing:
            raise ValueError(
                f"Levels {min_level}..{max_level} need backbone features {missing}, which "
                f"{backbone.name!r} does not output (it outputs "
                f"{['P%d' % level for level in available]}).")
        return min_level, max_level

    def _build_samplers(self, sampling, cascade_iou_thresholds, mask_crop_size):
        """The RPN labeler, each stage's ROI sampler (the first draws a fixed
        foreground share, later ones relabel every ROI at their IoU, as the
        reference's cascade does) and the mask sampler."""
        seed = sampling.seed
        self.rpn_labeler = RPNLabeler(
            sampling.rpn_match_threshold, sampling.rpn_unmatched_threshold,
            sampling.rpn_samples_per_image, sampling.rpn_positive_fraction, seed=seed,
            name="rpn_labeler")
        self.roi_samplers = [ROISampler(
            sampling.roi_samples_per_image, sampling.roi_foreground_fraction,
            sampling.roi_foreground_iou_threshold, sampling.roi_background_iou_high_threshold,
            sampling.roi_background_iou_low_threshold, sampling.mix_gt_boxes,
            seed=None if seed is None else seed + 1, name="roi_sampler")]
        self.roi_samplers += [
            ROISampler(sampling.roi_samples_per_image, foreground_iou_threshold=iou,
                       background_iou_high_threshold=iou, background_iou_low_threshold=0.0,
                       mix_gt_boxes=False, skip_subsampling=True,
                       name=f"roi_sampler_{stage + 2}")
            for stage, iou in enumerate(cascade_iou_thresholds)]
        self.mask_sampler = MaskSampler(sampling.mask_samples_per_image, 2 * mask_crop_size,
                                        name="mask_sampler")

    def _build_from_backbone(self):
        """Builds every weight from the backbone's static shapes."""
        shapes = {f"P{level}": tuple(self.backbone.output[f"P{level}"].shape)
                  for level in range(self.min_level, self.max_level + 1)}
        channels = shapes[f"P{self.min_level}"][-1]
        self.rpn_head.build(shapes)
        rois = self.roi_generator.test_settings.num_proposals
        size = self.roi_aligner.crop_size
        for head in self.box_heads:
            head.build((None, rois, size, size, channels))
        size = self.mask_roi_aligner.crop_size
        self.mask_head.build([(None, None, size, size, channels), (None, None)])
        self.built = True

    # --- the network -------------------------------------------------------

    @property
    def box_head(self):
        """The first stage's box head (Mask R-CNN's only one)."""
        return self.box_heads[0]

    @property
    def num_stages(self):
        return len(self.box_heads)

    def refine_rois(self, rois, box_deltas, stage, image_shape):
        """Stage `stage`'s class-agnostic boxes of `rois`, clipped to each
        image: the next stage's ROIs."""
        inclusive = self.detection_generator.pixel_inclusive_boxes
        boxes = decode_boxes(ops.cast(box_deltas, "float32"), rois,
                             weights=STAGE_BOX_CODER_WEIGHTS[stage], pixel_inclusive=inclusive)
        return clip_boxes(boxes, image_shape[:, 0], image_shape[:, 1],
                          pixel_inclusive=inclusive)

    def _inputs(self, images, image_shape, training):
        """(images, image_shape, ground truth or None) of a call."""
        ground_truth = None
        if isinstance(images, dict):
            inputs = images
            images = inputs["images"]
            image_shape = inputs.get("image_shape", image_shape)
            if training:
                missing = [key for key in GROUND_TRUTH if key not in inputs]
                if missing:
                    raise ValueError(
                        f"{type(self).__name__} trains on dicts of images and ground truth "
                        f"{GROUND_TRUTH}; missing {missing} (received {sorted(inputs)}).")
                ground_truth = {key: inputs[key] for key in GROUND_TRUTH}
        elif training:
            raise ValueError(
                f"{type(self).__name__} trains on a dict of `images`, `boxes`, `classes` and "
                f"`masks` (and optionally `image_shape`); received a "
                f"{type(images).__name__}.")
        if image_shape is None:
            image_shape = ops.tile(ops.array([[images.shape[1], images.shape[2]]], "float32"),
                                   (ops.shape(images)[0], 1))
        return images, ops.cast(image_shape, "float32"), ground_truth

    def call(self, images, image_shape=None, training=False):
        images, image_shape, ground_truth = self._inputs(images, image_shape, training)
        height, width = images.shape[1], images.shape[2]
        features = self.backbone(images, training=training)
        features = {f"P{level}": features[f"P{level}"]
                    for level in range(self.min_level, self.max_level + 1)}
        rpn_scores, rpn_boxes = self.rpn_head(features, training=training)
        anchors = self.anchor_generator.multilevel_anchors(height, width)
        rois, _ = self.roi_generator(rpn_scores, rpn_boxes, anchors, image_shape,
                                     training=training)
        if ground_truth is not None:
            return self._training_outputs(features, rpn_scores, rpn_boxes, rois,
                                          ground_truth, image_shape, (height, width))
        stage_rois, stage_logits, stage_deltas = [], [], []
        for stage, head in enumerate(self.box_heads):
            if stage:
                rois = self.refine_rois(rois, stage_deltas[-1], stage - 1, image_shape)
            class_logits, box_deltas = head(self.roi_aligner(features, rois), training=False)
            stage_rois.append(rois)
            stage_logits.append(class_logits)
            stage_deltas.append(box_deltas)
        if self._config["class_ensemble"]:
            class_logits = ops.mean(ops.stack(stage_logits), axis=0)
        outputs = dict(rpn_scores=rpn_scores, rpn_boxes=rpn_boxes, rois=rois,
                       class_logits=class_logits, box_deltas=box_deltas)
        if self.num_stages > 1:
            outputs.update(stage_rois=stage_rois, stage_class_logits=stage_logits,
                           stage_box_deltas=stage_deltas)
        detections = self.detection_generator(class_logits, box_deltas, rois, image_shape)
        mask_logits = self.mask_head(
            [self.mask_roi_aligner(features, detections["detection_boxes"]),
             detections["detection_classes"]], training=False)
        outputs.update(detections, detection_masks=ops.sigmoid(mask_logits))
        return outputs

    def _training_outputs(self, features, rpn_scores, rpn_boxes, rois, ground_truth,
                          image_shape, size):
        """Raw outputs and their targets, what `RCNNLoss` takes."""
        boxes = ops.cast(ground_truth["boxes"], "float32")
        classes = ops.cast(ground_truth["classes"], "int32")
        score_targets, rpn_box_targets = self.rpn_labeler(
            self.anchor_generator.flat_anchors(*size), boxes, classes)
        stages, sampled = [], None
        for stage, (sampler, head) in enumerate(zip(self.roi_samplers, self.box_heads)):
            if sampled is not None:  # a later stage: the last one's refined boxes
                rois = self.refine_rois(sampled["rois"], stages[-1]["box_deltas"], stage - 1,
                                        image_shape)
            sampled = sampler(ops.stop_gradient(rois), boxes, classes)
            box_targets = encode_boxes(sampled["matched_boxes"], sampled["rois"],
                                       STAGE_BOX_CODER_WEIGHTS[stage])
            box_targets = ops.where(ops.expand_dims(sampled["matched_classes"] > 0, -1),
                                    box_targets, 0.0)
            class_logits, box_deltas = head(
                self.roi_aligner(features, sampled["rois"]), training=True)
            stages.append(dict(rois=sampled["rois"], class_logits=class_logits,
                               class_targets=sampled["matched_classes"],
                               box_deltas=box_deltas, box_targets=box_targets))
        mask_rois, mask_classes, mask_targets = self.mask_sampler(
            sampled, ground_truth["masks"])
        mask_logits = self.mask_head(
            [self.mask_roi_aligner(features, mask_rois), mask_classes], training=True)
        return dict(
            rpn_score_logits=flatten_multilevel(rpn_scores, 1)[..., 0],
            rpn_score_targets=score_targets,
            rpn_box_deltas=flatten_multilevel(rpn_boxes, 4), rpn_box_targets=rpn_box_targets,
            **stages[0], stages=stages, mask_rois=mask_rois, mask_logits=mask_logits,
            mask_targets=ops.stop_gradient(mask_targets), mask_classes=mask_classes)

    # --- training --------------------------------------------------------

    def level_sizes(self, height, width):
        """Anchors per level, in `flat_anchors` order."""
        return [int(anchors.shape[0] * anchors.shape[1] * anchors.shape[2] // 4)
                for anchors in self.anchor_generator.multilevel_anchors(
                    height, width).values()]

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The reference's losses of `y_pred` (this model's training
        outputs on `x`, computed if None), plus weight regularization; under
        `tf.distribute` this replica's share (`ops.distribution`)."""
        if y_pred is None:
            y_pred = self(x, training=True)
        if "rpn_score_targets" not in y_pred:
            raise ValueError(f"{type(self).__name__}'s loss needs its training outputs (call "
                             "it with training=True on a dict with the ground truth).")
        height, width = x["images"].shape[1], x["images"].shape[2]
        losses = self.detection_loss(y_pred, self.level_sizes(height, width))
        for term, tracker in self.loss_trackers.items():
            tracker.update_state(losses[term])
        total = losses["total_loss"]
        if self.losses:  # weight regularization
            total = total + ops.sum(ops.stack([ops.cast(l, "float32") for l in self.losses]))
        return per_replica_share(total)

    @property
    def metrics(self):
        return super().metrics + list(self.loss_trackers.values())

    # --- what evaluation and serving run ----------------------------------

    def serving_outputs(self, images, image_info=None):
        """Detections of preprocessed `images`; with the preprocessor's
        `image_info` [B, 4, 2], boxes in each original image's pixels
        (clipped to it, zero past `num_detections`). `detection_masks` stay
        28 x 28 probabilities inside each box (`evaluation.mask_pasting`
        pastes them into the image). What evaluation and serving return."""
        image_shape = None if image_info is None else image_info[:, 1]
        outputs = self(images, image_shape=image_shape, training=False)
        detections = {key: outputs[key] for key in (
            "detection_boxes", "detection_scores", "detection_classes", "num_detections",
            "detection_masks")}
        return detections if image_info is None else detections_to_original(detections,
                                                                             image_info)

    # --- parts and serialization ------------------------------------------

    def parts(self):
        return {"backbone": self.backbone, "rpn_head": self.rpn_head,
                **{head.name: head for head in self.box_heads}, "mask_head": self.mask_head}

    def class_specific_layers(self):
        layers = [head.class_predictor for head in self.box_heads]
        if not self._config["class_agnostic_boxes"]:
            layers += [head.box_predictor for head in self.box_heads]
        return layers + [self.mask_head.mask_predictor]

    def get_config(self):
        return {"name": self.name,
                "dtype": keras.dtype_policies.serialize(self.dtype_policy),
                "backbone": keras.saving.serialize_keras_object(self.backbone),
                "preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
                **self._config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        backbone = keras.saving.deserialize_keras_object(config.pop("backbone"))
        num_classes = config.pop("num_classes")
        if config.get("preprocessor") is not None:
            config["preprocessor"] = keras.saving.deserialize_keras_object(
                config["preprocessor"])
        return cls(backbone, num_classes, **config)
