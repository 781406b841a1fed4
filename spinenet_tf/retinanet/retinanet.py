"""RetinaNet on a SpineNet (or any multi-level) backbone."""

import keras
import numpy as np
from keras import ops

from spinenet_tf.backbones.feature_levels import backbone_levels
from spinenet_tf.ops.box_ops import detections_to_original
from spinenet_tf.ops.distribution import per_replica_share
from spinenet_tf.ops.anchor_generator import (  # TPU_ASPECT_RATIOS: public here too
    TPU_ASPECT_RATIOS, AnchorGenerator, flatten_multilevel)
from spinenet_tf.retinanet.anchor_labeler import AnchorLabeler
from spinenet_tf.retinanet.detection_decoder import DetectionDecoder
from spinenet_tf.retinanet.retinanet_loss import RetinaNetLoss
from spinenet_tf.retinanet.tflite_post_process import (
    TFLitePostProcessConfig, tflite_detection_post_process)
from spinenet_tf.retinanet.retinanet_head import RetinaNetHead
from spinenet_tf.task_model import TaskModel



@keras.saving.register_keras_serializable(package="spinenet_tf")
class RetinaNet(TaskModel):
    """RetinaNet detector: backbone -> shared head -> anchors -> loss / NMS.

    Calling the model gives the raw outputs `{"class_logits": {"P3": ...},
    "box_deltas": {"P3": ...}}` (per level [B, H_l, W_l, A * C] and
    [B, H_l, W_l, A * 4]), which export paths consume. `fit` takes
    `(images, {"boxes": [B, M, 4], "classes": [B, M]})` with boxes
    (ymin, xmin, ymax, xmax) in pixels of the (padded) input image,
    classes padded with -1 and an optional `"is_crowd"` [B, M]; targets are
    assigned inside `compute_loss` by the model's `label_encoder`, the one
    place where targets are made. `predict` returns the detections of
    `DetectionDecoder`: `detection_boxes`, `detection_scores`,
    `detection_classes`, `num_detections`.

    The model owns its input contract: `preprocessor` (an
    `ImagePreprocessor`) turns 0..255 pixels into the model's input, and
    the input pipelines, serving signatures, TFLite export and evaluation
    all call it. `serving_outputs` and `tflite_outputs` are what the
    exporters put behind their signatures.

    Class ids follow the reference: `num_classes` logits per anchor, slot 0
    is background and never predicted (COCO: 91 = 90 ids + background).

    Example:
    ```python
    backbone = spinenet_tf.SpineNetMobile("49", input_shape=(384, 384, 3))
    model = spinenet_tf.RetinaNet(backbone, num_classes=91,
                                  head_num_filters=48, use_separable_conv=True)
    model.compile(optimizer="sgd")
    model.fit(dataset)                      # (images, {"boxes", "classes"})
    detections = model.predict(images)      # dict of four arrays
    ```
    Named paper configurations: `RetinaNet.from_variant("spinenet-49")`.

    Args:
        backbone: a Keras model returning {"P{level}": features}.
        num_classes: logits per anchor, background slot 0 included.
        min_level, max_level: levels to predict on; default: the
            backbone's `min_level` / `max_level` (or all its outputs).
        num_scales, aspect_ratios, anchor_size: anchor layout
            (see `AnchorGenerator`).
        head_num_convs, head_num_filters, use_separable_conv,
            head_activation: head settings (see `RetinaNetHead`); the
            activation defaults to the backbone's.
        kernel_regularizer: for the head (the backbone has its own).
        focal_alpha, focal_gamma, huber_delta, box_loss_weight: loss.
        match_threshold, unmatched_threshold: target assignment IoUs.
        pre_nms_top_k, pre_nms_score_threshold, nms_iou_threshold,
            max_detections: post-processing (see `DetectionDecoder`).
        pixel_inclusive_boxes: detections decoded and clipped in the TPU
            model zoo's box convention (`spinenet_tf.ops.box_ops`;
            `flavor="tpu"` sets it). Training targets keep Model Garden's.
        preprocessor: an `ImagePreprocessor` (default: ImageNet statistics
            at the backbone's input size).
        dtype: dtype policy of the head (default: the global policy).
    """

    pretrained_family = "retinanet"

    def __init__(
        self,
        backbone,
        num_classes,
        min_level=None,
        max_level=None,
        num_scales=3,
        aspect_ratios=(0.5, 1.0, 2.0),
        anchor_size=3.0,
        head_num_convs=4,
        head_num_filters=256,
        use_separable_conv=False,
        head_activation=None,
        kernel_regularizer=None,
        focal_alpha=0.25,
        focal_gamma=1.5,
        huber_delta=0.1,
        box_loss_weight=50.0,
        match_threshold=0.5,
        unmatched_threshold=0.5,
        pre_nms_top_k=5000,
        pre_nms_score_threshold=0.05,
        nms_iou_threshold=0.5,
        max_detections=100,
        pixel_inclusive_boxes=False,
        preprocessor=None,
        dtype=None,
        name="retinanet",
        **kwargs,
    ):
        available = backbone_levels(backbone)
        min_level = min_level or getattr(backbone, "min_level", available[0])
        max_level = max_level or getattr(backbone, "max_level", available[-1])
        wanted = list(range(min_level, max_level + 1))
        missing = [level for level in wanted if level not in available]
        if missing:
            raise ValueError(
                f"RetinaNet levels {min_level}..{max_level} (anchors and "
                f"head) need backbone features P{min_level}..P{max_level}, "
                f"but the backbone {backbone.name!r} outputs "
                f"{['P%d' % level for level in available]}; missing "
                f"{['P%d' % level for level in missing]}. Build the backbone "
                "with matching min_level / max_level.")
        input_shape, preprocessor, dtype = self.task_inputs(
            backbone, preprocessor, dtype)
        # Batch-norm settings (folded or not) and default activation follow
        # the backbone.
        factory = getattr(backbone, "factory", None)
        activation = head_activation or getattr(factory, "activation", "relu")
        anchor_generator = AnchorGenerator(
            min_level, max_level, num_scales, aspect_ratios, anchor_size)
        head = RetinaNetHead(
            min_level=min_level,
            max_level=max_level,
            num_classes=num_classes,
            anchors_per_location=anchor_generator.anchors_per_location,
            num_convs=head_num_convs,
            num_filters=head_num_filters,
            use_separable_conv=use_separable_conv,
            activation=activation,
            use_sync_bn=getattr(factory, "use_sync_bn", False),
            norm_momentum=getattr(factory, "norm_momentum", 0.99),
            norm_epsilon=getattr(factory, "norm_epsilon", 1e-3),
            form=getattr(factory, "form", None),
            kernel_regularizer=kernel_regularizer,
            dtype=dtype,
            name="head",
        )

        # === Functional Model ===
        images = keras.Input(shape=input_shape, name="images")
        features = backbone(images)
        class_logits, box_deltas = head(
            {f"P{level}": features[f"P{level}"] for level in wanted})
        super().__init__(
            inputs=images,
            outputs={"class_logits": class_logits, "box_deltas": box_deltas},
            name=name,
            **kwargs,
        )

        # === Config ===
        self.set_task_attributes(backbone, preprocessor, dtype, kernel_regularizer)
        self.head = head
        self.num_classes = int(num_classes)
        self.min_level = min_level
        self.max_level = max_level
        self.head_num_convs = head_num_convs
        self.head_num_filters = head_num_filters
        self.use_separable_conv = use_separable_conv
        self.head_activation = activation
        self.anchor_generator = anchor_generator
        self.label_encoder = AnchorLabeler(match_threshold, unmatched_threshold)
        self.detection_loss = RetinaNetLoss(
            num_classes, focal_alpha, focal_gamma, huber_delta, box_loss_weight)
        self.detection_decoder = DetectionDecoder(
            pre_nms_top_k, pre_nms_score_threshold, nms_iou_threshold,
            max_detections, pixel_inclusive_boxes=pixel_inclusive_boxes)
        self.class_loss_tracker = keras.metrics.Mean(name="class_loss")
        self.box_loss_tracker = keras.metrics.Mean(name="box_loss")

    @classmethod
    def from_variant(cls, name, num_classes=91, image_size=None,
                     activation="swish", flavor="model_garden", **kwargs):
        """The paper's RetinaNet for a named backbone variant.

        `name` is a backbone variant ("spinenet-49", "spinenet-mobile-49",
        ...; see `retinanet_configs.RETINANET_CONFIGS`) and gets that
        recipe's head and anchor size, at its paper input size unless
        `image_size` is given. `activation` applies to backbone and head
        (the recipes use swish). `flavor="tpu"` builds the TPU model zoo's
        network (`backbones.variants.FLAVORS`; anchors in its aspect order
        1, 2, 0.5); other keyword arguments go to `RetinaNet`.
        """
        from spinenet_tf.retinanet.recipes import get_retinanet_config

        config = get_retinanet_config(name)
        backbone_kwargs = kwargs.pop("backbone_kwargs", {})
        backbone = config.variant.build(
            image_size, flavor=flavor, activation=activation, **backbone_kwargs)
        if flavor == "tpu":
            kwargs.setdefault("aspect_ratios", TPU_ASPECT_RATIOS)
            kwargs.setdefault("pixel_inclusive_boxes", True)
        options = dict(
            head_num_convs=config.head_num_convs,
            head_num_filters=config.head_num_filters,
            use_separable_conv=config.use_separable_conv,
            anchor_size=config.anchor_size,
            name=f"retinanet_{config.variant.name.replace('-', '_')}",
        )
        options.update(kwargs)
        return cls(backbone, num_classes, **options)

    # --- anchors, training and inference -------------------------------

    def anchors_for(self, images):
        """[N, 4] anchors for a batch of images (static size needed)."""
        height, width = images.shape[1], images.shape[2]
        return self.anchor_generator.flat_anchors(height, width)

    def compile(self, optimizer="auto", **kwargs):
        """`optimizer="auto"`: SGD (momentum 0.9, lr 0.01, global clipnorm 10).

        The loss is fixed (focal + Huber, computed in `compute_loss`);
        passing `loss` raises.
        """
        if "loss" in kwargs:
            raise ValueError(
                "RetinaNet computes its own loss (focal + Huber); do not pass "
                f"`loss` to compile (received {kwargs['loss']!r}).")
        if optimizer == "auto":
            optimizer = keras.optimizers.SGD(
                learning_rate=0.01, momentum=0.9, global_clipnorm=10.0)
        super().compile(optimizer=optimizer, **kwargs)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                     training=True):
        """Focal + Huber loss (plus weight regularization) of a batch.

        `y` is the ground truth `{"boxes": [B, M, 4], "classes": [B, M]}`
        (optionally `"is_crowd"`), encoded into per-anchor targets here by
        `label_encoder`. A per-image `sample_weight` scales both terms (0
        leaves an image out).
        """
        if not isinstance(y, dict) or not {"boxes", "classes"} <= set(y):
            raise ValueError(
                "RetinaNet expects targets {'boxes': [B, M, 4], 'classes': "
                f"[B, M]}} (optionally 'is_crowd'); received {y!r}.")
        if y_pred is None:
            y_pred = self(x, training=training)
        targets = self.label_encoder(
            self.anchors_for(x), y["boxes"], y["classes"], y.get("is_crowd"))
        if sample_weight is not None:
            weight = ops.expand_dims(ops.cast(sample_weight, "float32"), -1)
            targets["class_weights"] = targets["class_weights"] * weight
            targets["box_weights"] = targets["box_weights"] * weight
        losses = self.detection_loss(
            flatten_multilevel(y_pred["class_logits"], self.num_classes),
            flatten_multilevel(y_pred["box_deltas"], 4),
            targets)
        self.class_loss_tracker.update_state(losses["class_loss"])
        self.box_loss_tracker.update_state(losses["box_loss"])
        total = losses["total_loss"]
        if self.losses:  # weight regularization
            total = total + ops.sum(
                ops.stack([ops.cast(l, "float32") for l in self.losses]))
        # Keras sums the replicas' gradients: each replica's loss is its share.
        return per_replica_share(total)

    @property
    def metrics(self):
        return super().metrics + [self.class_loss_tracker, self.box_loss_tracker]

    def decode_detections(self, outputs, images):
        """Raw outputs -> detections, boxes clipped to the image."""
        anchors = ops.convert_to_tensor(self.anchors_for(images))
        return self.detection_decoder(
            outputs["class_logits"], outputs["box_deltas"], anchors,
            image_size=(images.shape[1], images.shape[2]))

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self.decode_detections(self(x, training=False), x)

    # --- what the exporters and evaluation run -------------------------

    def serving_outputs(self, images, image_info=None):
        """Detections of preprocessed `images`; with the preprocessor's
        `image_info`, boxes in each original image's pixels (clipped to it,
        zero past `num_detections`). What serving and evaluation return."""
        detections = self.decode_detections(self(images, training=False), images)
        if image_info is None:
            return detections
        return detections_to_original(detections, image_info)

    def tflite_post_process_config(self, nms="fast"):
        """The `TFLite_Detection_PostProcess` settings of this model's decoder."""
        return TFLitePostProcessConfig.from_decoder(self.detection_decoder, nms)

    def tflite_outputs(self, images, post_processing=True, post_process_config=None,
                       nms="fast"):
        """The outputs of a `.tflite` for normalised `images` (fixed size):
        the `TFLite_Detection_PostProcess` op's four outputs (boxes
        normalised to 0..1, 0-based foreground classes), or with
        `post_processing=False` the flat raw `class_logits` [B, N, C] and
        `box_deltas` [B, N, 4] over `anchors_for(images)`. The op's
        settings: `post_process_config`, else this model's decoder's with
        `nms` ("fast" or "regular", see `TFLitePostProcessConfig.from_decoder`)."""
        outputs = self(images, training=False)
        class_logits, box_deltas = outputs["class_logits"], outputs["box_deltas"]
        if not post_processing:
            return {"class_logits": flatten_multilevel(class_logits, self.num_classes),
                    "box_deltas": flatten_multilevel(box_deltas, 4)}
        height, width = images.shape[1], images.shape[2]
        anchors = self.anchors_for(images)
        # The op decodes continuous boxes. In the TPU convention an anchor
        # [ymin, ymax] spans ymax + 1 - ymin pixels, and a decoded box ends
        # a pixel before its continuous end: the same decoding (the op's
        # NMS then sees boxes a pixel larger, a difference of TFLite only).
        inclusive = 1.0 if self.detection_decoder.pixel_inclusive_boxes else 0.0
        scale = np.array([height, width, height, width], "float32")
        anchors = (anchors + inclusive * np.array([0, 0, 1, 1], "float32")) / scale
        boxes, classes, scores, count = tflite_detection_post_process(
            class_logits, box_deltas, anchors,
            post_process_config or self.tflite_post_process_config(nms))
        if inclusive:
            boxes = boxes - ops.convert_to_tensor([0.0, 0.0, 1.0 / height, 1.0 / width])
        return {"detection_boxes": boxes, "detection_classes": classes,
                "detection_scores": scores, "num_detections": count}

    # --- serialization ---------------------------------------------------

    def get_config(self):
        loss = self.detection_loss
        labeler = self.label_encoder
        decoder = self.detection_decoder
        anchors = self.anchor_generator
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "min_level": self.min_level,
            "max_level": self.max_level,
            "num_scales": anchors.num_scales,
            "aspect_ratios": list(anchors.aspect_ratios),
            "anchor_size": anchors.anchor_size,
            "head_num_convs": self.head_num_convs,
            "head_num_filters": self.head_num_filters,
            "use_separable_conv": self.use_separable_conv,
            "head_activation": self.head_activation,
            "focal_alpha": loss.focal_alpha,
            "focal_gamma": loss.focal_gamma,
            "huber_delta": loss.huber_delta,
            "box_loss_weight": loss.box_loss_weight,
            "match_threshold": labeler.match_threshold,
            "unmatched_threshold": labeler.unmatched_threshold,
            "pre_nms_top_k": decoder.pre_nms_top_k,
            "pre_nms_score_threshold": decoder.pre_nms_score_threshold,
            "nms_iou_threshold": decoder.nms_iou_threshold,
            "max_detections": decoder.max_detections,
            "pixel_inclusive_boxes": decoder.pixel_inclusive_boxes,
        }
