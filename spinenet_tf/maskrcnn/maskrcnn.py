"""Mask R-CNN on a SpineNet (or any multi-level) backbone."""

import dataclasses

import keras
from keras import ops

from spinenet_tf.backbones.feature_levels import backbone_levels
from spinenet_tf.layers.image_preprocessor import ImagePreprocessor
from spinenet_tf.maskrcnn.box_head import BoxHead
from spinenet_tf.maskrcnn.detection_generator import DetectionGenerator
from spinenet_tf.maskrcnn.mask_head import MaskHead
from spinenet_tf.maskrcnn.mask_sampler import MaskSampler
from spinenet_tf.maskrcnn.maskrcnn_loss import MaskRCNNLoss
from spinenet_tf.maskrcnn.roi_aligner import MultilevelROIAligner
from spinenet_tf.maskrcnn.roi_generator import MultilevelROIGenerator
from spinenet_tf.maskrcnn.roi_sampler import ROISampler
from spinenet_tf.maskrcnn.rpn_head import RPNHead
from spinenet_tf.maskrcnn.rpn_labeler import RPNLabeler
from spinenet_tf.maskrcnn.sampling_settings import SamplingSettings
from spinenet_tf.ops.box_ops import detections_to_original, encode_boxes
from spinenet_tf.ops.distribution import per_replica_share
from spinenet_tf.ops.anchor_generator import (
    TPU_ASPECT_RATIOS, AnchorGenerator, flatten_multilevel)
from spinenet_tf.task_model import TaskModelMixin

GROUND_TRUTH = ("boxes", "classes", "masks")
# What the TPU model zoo's Mask R-CNN differs in from Model Garden's besides
# the backbone (`flavor="tpu"`): its anchor order, its box convention and its
# 1000 boxes a class before NMS (`postprocess.pre_nms_num_boxes`; Model
# Garden: 5000).
TPU_FLAVOR_OPTIONS = dict(aspect_ratios=TPU_ASPECT_RATIOS, pixel_inclusive_boxes=True,
                          pre_nms_top_k=1000)


@keras.saving.register_keras_serializable(package="spinenet_tf")
class MaskRCNN(TaskModelMixin, keras.Model):
    """Mask R-CNN, tf-models-official's `MaskRCNNModel` in Keras 3 layers.

    backbone -> `RPNHead` on every level -> `MultilevelROIGenerator`
    (proposals) -> `MultilevelROIAligner` (7x7) -> `BoxHead` ->
    `DetectionGenerator` (class-specific boxes, per-class NMS) ->
    `MultilevelROIAligner` (14x14) on the detections -> `MaskHead` (28x28
    mask of each detection's class).

    Inference: `model(images, image_shape=None)` returns a dict:
    `rpn_scores`, `rpn_boxes` (per level), `rois` [B, P, 4], `class_logits`
    [B, P, C], `box_deltas` [B, P, 4C], the four detection tensors and
    `detection_masks` [B, K, 28, 28] (probabilities, in each detection
    box). `image_shape` [B, 2] is the (height, width) of each image's
    content inside the padded input (default: the whole input).

    Training: `model(inputs, training=True)` with `inputs` a dict of
    `images`, optional `image_shape` and the ground truth `boxes` [B, M, 4]
    (pixels of the input), `classes` [B, M] (-1 for padding) and `masks`
    [B, M, S, S] (each box's mask cropped to the box, the reference's 112 x
    112) returns the raw outputs beside their targets: RPN targets
    (`RPNLabeler`), sampled ROIs (`ROISampler`) and mask targets
    (`MaskSampler`); `compute_loss` turns them into the reference's five
    losses (`MaskRCNNLoss`), so `fit` trains on such dicts.

    Args:
        backbone: a Keras model returning {"P{level}": features}.
        num_classes: classes including background (91 for COCO).
        min_level, max_level: levels to use; default the backbone's.
        num_scales, aspect_ratios, anchor_size: RPN anchors (the recipe: 1,
            (0.5, 1, 2), 3).
        rpn_num_convs, rpn_num_filters: the RPN tower (1 x 256).
        rpn_norm_each_conv: False for the TPU model zoo's 2020 RPN layout
            (`RPNHead`'s `norm_each_conv`).
        box_num_convs, box_num_filters, box_num_fcs, box_fc_dims: the box
            head (4 x 256 convs, 1 x 1024 fc).
        mask_num_convs, mask_num_filters: the mask head (4 x 256).
        use_separable_conv: separable convs in all three heads.
        class_agnostic_boxes: one box per ROI instead of one per class.
        activation: of the heads; default the backbone's.
        kernel_regularizer: for the heads.
        train_proposals, test_proposals: `ProposalSettings` (or dicts).
        roi_crop_size, mask_crop_size: ROI align sizes (7, 14).
        pre_nms_top_k, pre_nms_score_threshold, nms_iou_threshold,
            max_detections: see `DetectionGenerator`.
        pixel_inclusive_boxes: proposals and detections decoded and clipped
            in the TPU model zoo's box convention (`spinenet_tf.ops.box_ops`;
            `flavor="tpu"` sets it). Training targets keep Model Garden's.
        sampling: `SamplingSettings` (or a dict) of the training targets.
        loss_weights: the five losses' weights (`MaskRCNNLoss`; default 1).
        preprocessor: an `ImagePreprocessor` (default: ImageNet statistics,
            letterboxed to the backbone's input size): the input contract
            that the data pipelines, evaluation and serving call.

    `dtype` (a Keras dtype policy, default the global one) is the heads'.
    `inference_model(model, precision)` folds the backbone's batch norms
    (the heads keep theirs) and computes backbone and heads in `precision`;
    outputs are float32 in every policy.
    """

    pretrained_family = "maskrcnn"

    def __init__(self, backbone, num_classes, min_level=None, max_level=None, num_scales=1,
                 aspect_ratios=(0.5, 1.0, 2.0), anchor_size=3.0, rpn_num_convs=1,
                 rpn_num_filters=256, rpn_norm_each_conv=True, box_num_convs=4,
                 box_num_filters=256, box_num_fcs=1,
                 box_fc_dims=1024, mask_num_convs=4, mask_num_filters=256,
                 use_separable_conv=False, class_agnostic_boxes=False, activation=None,
                 kernel_regularizer=None, train_proposals=None, test_proposals=None,
                 roi_crop_size=7, mask_crop_size=14, pre_nms_top_k=5000,
                 pre_nms_score_threshold=0.05, nms_iou_threshold=0.5, max_detections=100,
                 pixel_inclusive_boxes=False, sampling=None, loss_weights=None, preprocessor=None, name="maskrcnn",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        available = backbone_levels(backbone)
        self.min_level = int(min_level or getattr(backbone, "min_level", available[0]))
        self.max_level = int(max_level or getattr(backbone, "max_level", available[-1]))
        missing = [f"P{level}" for level in range(self.min_level, self.max_level + 1)
                   if level not in available]
        if missing:
            raise ValueError(
                f"MaskRCNN levels {self.min_level}..{self.max_level} need backbone features "
                f"{missing}, which {backbone.name!r} does not output (it outputs "
                f"{['P%d' % level for level in available]}).")
        self.backbone = backbone
        self.num_classes = int(num_classes)
        input_size = tuple(backbone.input.shape[1:3])
        if preprocessor is None and None not in input_size:
            preprocessor = ImagePreprocessor(input_size)
        self.preprocessor = preprocessor
        factory = getattr(backbone, "factory", None)
        norm = dict(activation=activation or getattr(factory, "activation", "relu"),
                    use_sync_bn=getattr(factory, "use_sync_bn", False),
                    norm_momentum=getattr(factory, "norm_momentum", 0.99),
                    norm_epsilon=getattr(factory, "norm_epsilon", 1e-3),
                    kernel_regularizer=kernel_regularizer, dtype=self.dtype_policy)
        self.anchor_generator = AnchorGenerator(
            self.min_level, self.max_level, num_scales, aspect_ratios, anchor_size)
        self.rpn_head = RPNHead(
            self.min_level, self.max_level, self.anchor_generator.anchors_per_location,
            num_convs=rpn_num_convs, num_filters=rpn_num_filters,
            use_separable_conv=use_separable_conv, norm_each_conv=rpn_norm_each_conv,
            name="rpn_head", **norm)
        self.roi_generator = MultilevelROIGenerator(
            train_proposals, test_proposals, pixel_inclusive_boxes=pixel_inclusive_boxes,
            name="roi_generator")
        self.roi_aligner = MultilevelROIAligner(roi_crop_size, name="roi_aligner")
        self.box_head = BoxHead(
            self.num_classes, num_convs=box_num_convs, num_filters=box_num_filters,
            use_separable_conv=use_separable_conv, num_fcs=box_num_fcs, fc_dims=box_fc_dims,
            class_agnostic_boxes=class_agnostic_boxes, name="box_head", **norm)
        self.detection_generator = DetectionGenerator(
            pre_nms_top_k, pre_nms_score_threshold, nms_iou_threshold, max_detections,
            pixel_inclusive_boxes=pixel_inclusive_boxes)
        self.mask_roi_aligner = MultilevelROIAligner(mask_crop_size, name="mask_roi_aligner")
        self.mask_head = MaskHead(
            self.num_classes, num_convs=mask_num_convs, num_filters=mask_num_filters,
            use_separable_conv=use_separable_conv, name="mask_head", **norm)
        sampling = SamplingSettings.of(sampling)
        self.rpn_labeler = RPNLabeler(
            sampling.rpn_match_threshold, sampling.rpn_unmatched_threshold,
            sampling.rpn_samples_per_image, sampling.rpn_positive_fraction, seed=sampling.seed,
            name="rpn_labeler")
        self.roi_sampler = ROISampler(
            sampling.roi_samples_per_image, sampling.roi_foreground_fraction,
            sampling.roi_foreground_iou_threshold, sampling.roi_background_iou_high_threshold,
            sampling.roi_background_iou_low_threshold, sampling.mix_gt_boxes,
            seed=None if sampling.seed is None else sampling.seed + 1, name="roi_sampler")
        self.mask_sampler = MaskSampler(sampling.mask_samples_per_image,
                                        2 * mask_crop_size, name="mask_sampler")
        self.maskrcnn_loss = MaskRCNNLoss(sampling.rpn_samples_per_image,
                                          class_agnostic_boxes=class_agnostic_boxes,
                                          weights=loss_weights)
        self.loss_trackers = {term: keras.metrics.Mean(name=term)
                              for term in MaskRCNNLoss.TERMS}
        self._config = dict(
            num_classes=self.num_classes, min_level=self.min_level, max_level=self.max_level,
            num_scales=num_scales, aspect_ratios=tuple(aspect_ratios), anchor_size=anchor_size,
            rpn_num_convs=rpn_num_convs, rpn_num_filters=rpn_num_filters,
            rpn_norm_each_conv=bool(rpn_norm_each_conv), box_num_convs=box_num_convs,
            box_num_filters=box_num_filters,
            box_num_fcs=box_num_fcs, box_fc_dims=box_fc_dims, mask_num_convs=mask_num_convs,
            mask_num_filters=mask_num_filters, use_separable_conv=use_separable_conv,
            class_agnostic_boxes=class_agnostic_boxes, activation=norm["activation"],
            kernel_regularizer=keras.regularizers.serialize(
                keras.regularizers.get(kernel_regularizer)),
            train_proposals=self.roi_generator.get_config()["train"],
            test_proposals=self.roi_generator.get_config()["test"],
            roi_crop_size=roi_crop_size, mask_crop_size=mask_crop_size,
            pre_nms_top_k=pre_nms_top_k, pre_nms_score_threshold=pre_nms_score_threshold,
            nms_iou_threshold=nms_iou_threshold, max_detections=max_detections,
            pixel_inclusive_boxes=bool(pixel_inclusive_boxes), sampling=dataclasses.asdict(sampling), loss_weights=self.maskrcnn_loss.weights)
        self._build_from_backbone()

    def _build_from_backbone(self):
        """Builds every weight from the backbone's static shapes."""
        shapes = {f"P{level}": tuple(self.backbone.output[f"P{level}"].shape)
                  for level in range(self.min_level, self.max_level + 1)}
        channels = shapes[f"P{self.min_level}"][-1]
        self.rpn_head.build(shapes)
        rois = self.roi_generator.test_settings.num_proposals
        size = self.roi_aligner.crop_size
        self.box_head.build((None, rois, size, size, channels))
        size = self.mask_roi_aligner.crop_size
        self.mask_head.build([(None, None, size, size, channels), (None, None)])
        self.built = True

    @classmethod
    def from_variant(cls, variant, num_classes=91, image_size=None, activation="relu",
                     flavor="model_garden", **kwargs):
        """tf-models-official's `maskrcnn_spinenet_coco` recipe on a named
        backbone ("spinenet-49", "spinenet-96", "spinenet-143", "spinenet-190",
        "spinenet-mobile-49", ...; `backbones.variants.VARIANTS`), at its
        paper input size unless `image_size` is given. The recipe's
        activation is relu (backbone and heads). `flavor="tpu"` builds the
        TPU model zoo's network (`backbones.variants.FLAVORS`; anchors in
        its aspect order 1, 2, 0.5; its box convention; its 1000 boxes a
        class before NMS).
        Other keyword arguments go to `MaskRCNN`."""
        from spinenet_tf.backbones.variants import get_variant

        backbone = get_variant(variant).build(image_size, flavor=flavor, activation=activation,
                                 **kwargs.pop("backbone_kwargs", {}))
        if flavor == "tpu":
            kwargs = {**TPU_FLAVOR_OPTIONS, **kwargs}
        return cls(backbone, num_classes, **kwargs)

    def call(self, images, image_shape=None, training=False):
        ground_truth = None
        if isinstance(images, dict):
            inputs = images
            images = inputs["images"]
            image_shape = inputs.get("image_shape", image_shape)
            if training:
                missing = [key for key in GROUND_TRUTH if key not in inputs]
                if missing:
                    raise ValueError(
                        f"MaskRCNN trains on dicts of images and ground truth "
                        f"{GROUND_TRUTH}; missing {missing} (received {sorted(inputs)}).")
                ground_truth = {key: inputs[key] for key in GROUND_TRUTH}
        elif training:
            raise ValueError(
                "MaskRCNN trains on a dict of `images`, `boxes`, `classes` and `masks` (and "
                f"optionally `image_shape`); received a {type(images).__name__}.")
        batch = ops.shape(images)[0]
        height, width = images.shape[1], images.shape[2]
        if image_shape is None:
            image_shape = ops.tile(ops.array([[height, width]], "float32"), (batch, 1))
        image_shape = ops.cast(image_shape, "float32")
        features = self.backbone(images, training=training)
        features = {f"P{level}": features[f"P{level}"]
                    for level in range(self.min_level, self.max_level + 1)}
        rpn_scores, rpn_boxes = self.rpn_head(features, training=training)
        anchors = self.anchor_generator.multilevel_anchors(height, width)
        rois, _ = self.roi_generator(rpn_scores, rpn_boxes, anchors, image_shape,
                                     training=training)
        if ground_truth is not None:
            return self._training_outputs(features, rpn_scores, rpn_boxes, rois,
                                          ground_truth, (height, width))
        class_logits, box_deltas = self.box_head(self.roi_aligner(features, rois),
                                                 training=False)
        outputs = dict(rpn_scores=rpn_scores, rpn_boxes=rpn_boxes, rois=rois,
                       class_logits=class_logits, box_deltas=box_deltas)
        detections = self.detection_generator(class_logits, box_deltas, rois, image_shape)
        mask_logits = self.mask_head(
            [self.mask_roi_aligner(features, detections["detection_boxes"]),
             detections["detection_classes"]], training=False)
        outputs.update(detections, detection_masks=ops.sigmoid(mask_logits))
        return outputs

    def _training_outputs(self, features, rpn_scores, rpn_boxes, rois, ground_truth, size):
        """Raw outputs and their targets, what `MaskRCNNLoss` takes."""
        boxes = ops.cast(ground_truth["boxes"], "float32")
        classes = ops.cast(ground_truth["classes"], "int32")
        score_targets, rpn_box_targets = self.rpn_labeler(
            self.anchor_generator.flat_anchors(*size), boxes, classes)
        sampled = self.roi_sampler(ops.stop_gradient(rois), boxes, classes)
        box_targets = encode_boxes(sampled["matched_boxes"], sampled["rois"],
                                   self.detection_generator.box_coder_weights)
        box_targets = ops.where(ops.expand_dims(sampled["matched_classes"] > 0, -1),
                                box_targets, 0.0)
        class_logits, box_deltas = self.box_head(
            self.roi_aligner(features, sampled["rois"]), training=True)
        mask_rois, mask_classes, mask_targets = self.mask_sampler(
            sampled, ground_truth["masks"])
        mask_logits = self.mask_head(
            [self.mask_roi_aligner(features, mask_rois), mask_classes], training=True)
        return dict(
            rpn_score_logits=flatten_multilevel(rpn_scores, 1)[..., 0],
            rpn_score_targets=score_targets,
            rpn_box_deltas=flatten_multilevel(rpn_boxes, 4), rpn_box_targets=rpn_box_targets,
            rois=sampled["rois"], class_logits=class_logits, class_targets=sampled[
                "matched_classes"], box_deltas=box_deltas, box_targets=box_targets,
            mask_rois=mask_rois, mask_logits=mask_logits,
            mask_targets=ops.stop_gradient(mask_targets), mask_classes=mask_classes)

    def level_sizes(self, height, width):
        """Anchors per level, in `flat_anchors` order."""
        return [int(anchors.shape[0] * anchors.shape[1] * anchors.shape[2] // 4)
                for anchors in self.anchor_generator.multilevel_anchors(
                    height, width).values()]

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The reference's five losses of `y_pred` (this model's training
        outputs on `x`, computed if None), plus weight regularization; under
        `tf.distribute` this replica's share (`ops.distribution`)."""
        if y_pred is None:
            y_pred = self(x, training=True)
        if "rpn_score_targets" not in y_pred:
            raise ValueError("MaskRCNN's loss needs its training outputs (call it with "
                             "training=True on a dict with the ground truth).")
        height, width = x["images"].shape[1], x["images"].shape[2]
        losses = self.maskrcnn_loss(y_pred, self.level_sizes(height, width))
        for term, tracker in self.loss_trackers.items():
            tracker.update_state(losses[term])
        total = losses["total_loss"]
        if self.losses:  # weight regularization
            total = total + ops.sum(ops.stack([ops.cast(l, "float32") for l in self.losses]))
        return per_replica_share(total)

    @property
    def metrics(self):
        return super().metrics + list(self.loss_trackers.values())

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
        if config.get("preprocessor") is not None:
            config["preprocessor"] = keras.saving.deserialize_keras_object(
                config["preprocessor"])
        return cls(backbone, **config)
