"""RetinaNet on a SpineNet (or any multi-level) backbone."""

import keras
import numpy as np
from keras import ops

from spinenet_tf.backbones.head_interface import backbone_levels, backbone_norm_activation
from spinenet_tf.models.base.family_model import FunctionalFamilyModel
from spinenet_tf.models.retinanet.anchor_labeler import AnchorLabeler
from spinenet_tf.models.retinanet.multilevel_detection_generator import MultilevelDetectionGenerator
from spinenet_tf.models.retinanet.retinanet_head import RetinaNetHead
from spinenet_tf.models.retinanet.retinanet_loss import RetinaNetLoss
from spinenet_tf.ops.anchor_generator import AnchorGenerator, flatten_multilevel
from spinenet_tf.ops.box_ops import detections_to_original
from spinenet_tf.ops.distribution import per_replica_share
from spinenet_tf.ops.tflite_detection_post_process import (
    TFLitePostProcessConfig,
    tflite_detection_post_process,
)


@keras.saving.register_keras_serializable(package="spinenet_tf")
class RetinaNet(FunctionalFamilyModel):
    """RetinaNet detector: backbone -> shared head -> anchors -> loss / NMS.

    Calling the model gives the raw outputs `{"class_logits": {"P3": ...},
    "box_deltas": {"P3": ...}}` (per level [B, H_l, W_l, A * C] and
    [B, H_l, W_l, A * 4]), which export paths consume. `fit` takes
    `(images, {"boxes": [B, M, 4], "classes": [B, M]})` with boxes
    (ymin, xmin, ymax, xmax) in pixels of the (padded) input image,
    classes padded with -1 and an optional `"is_crowd"` [B, M]; targets are
    assigned inside `compute_loss` by the model's `anchor_labeler`, the one
    place where targets are made. `predict` returns the detections of its
    `detection_generator`: `detection_boxes`, `detection_scores`,
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
    model = spinenet_tf.RetinaNet(backbone, 91, head_num_filters=48,
                                  use_separable_conv=True)
    model.compile(optimizer="sgd")
    model.fit(dataset)                      # (images, {"boxes", "classes"})
    detections = model.predict(images)      # dict of four arrays
    ```
    The paper's models: `RetinaNet.from_variant("spinenet-49")`; the
    published ones: `RetinaNet.from_preset("retinanet-spinenet-49")`.

    Args:
        backbone: a Keras model returning {"P{level}": features}.
        num_classes: logits per anchor, background slot 0 included.
        min_level, max_level: levels to predict on; default: the
            backbone's `min_level` / `max_level` (or all its outputs).
        num_scales, aspect_ratios, anchor_size: anchor layout
            (see `AnchorGenerator`).
        head_num_convs, head_num_filters, use_separable_conv: head
            settings (see `RetinaNetHead`).
        activation: the head's; default the backbone's
            (`backbones.head_interface.backbone_norm_activation`, as its
            batch-norm settings).
        kernel_regularizer: for the head (the backbone has its own).
        focal_alpha, focal_gamma, huber_delta, box_loss_weight: loss.
        match_threshold, unmatched_threshold: target assignment IoUs.
        pre_nms_top_k, pre_nms_score_threshold, nms_iou_threshold,
            max_detections: post-processing (see `MultilevelDetectionGenerator`).
        pixel_inclusive_boxes: detections decoded and clipped in the TPU
            model zoo's box convention (`spinenet_tf.ops.box_ops`;
            `flavor="tpu"` sets it). Training targets keep Model Garden's.
        preprocessor: an `ImagePreprocessor` (default: ImageNet statistics
            at the backbone's input size).
        dtype: dtype policy of the head (default: the global policy).
    """

    def __init__(
        self,
        backbone,
        num_classes,
        *,
        min_level=None,
        max_level=None,
        num_scales=3,
        aspect_ratios=(0.5, 1.0, 2.0),
        anchor_size=3.0,
        head_num_convs=4,
        head_num_filters=256,
        use_separable_conv=False,
        activation=None,
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
        # One function, keras-hub's layout (the parts, === Functional Model
        # ===, === Config ===): split, the arguments would travel through
        # helpers untouched.
        available = backbone_levels(backbone)
        min_level = min_level or available[0]
        max_level = max_level or available[-1]
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
        norm = backbone_norm_activation(backbone)
        activation = activation or norm.activation
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
            use_sync_bn=norm.use_sync_bn,
            norm_momentum=norm.norm_momentum,
            norm_epsilon=norm.norm_epsilon,
            form=norm.form,
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
        self.activation = activation
        self.anchor_generator = anchor_generator
        self.anchor_labeler = AnchorLabeler(match_threshold, unmatched_threshold)
        self.detection_loss = RetinaNetLoss(
            num_classes, focal_alpha, focal_gamma, huber_delta, box_loss_weight)
        self.detection_generator = MultilevelDetectionGenerator(
            pre_nms_top_k, pre_nms_score_threshold, nms_iou_threshold,
            max_detections, pixel_inclusive_boxes=pixel_inclusive_boxes)
        self.class_loss_tracker = keras.metrics.Mean(name="class_loss")
        self.box_loss_tracker = keras.metrics.Mean(name="box_loss")

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
        targets = self.anchor_labeler(
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
        return self.detection_generator(
            outputs["class_logits"], outputs["box_deltas"], anchors,
            image_size=(images.shape[1], images.shape[2]))

    def predict_step(self, *args):
        """`predict` gives detections. Keras' own step runs the network;
        on JAX it takes and returns the state too (keras-hub's pattern)."""
        outputs = super().predict_step(*args)
        x, _, _ = keras.utils.unpack_x_y_sample_weight(args[-1])
        if isinstance(outputs, tuple):  # JAX: (outputs, non-trainable variables)
            return self.decode_detections(outputs[0], x), outputs[1]
        return self.decode_detections(outputs, x)

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
        """The `TFLite_Detection_PostProcess` settings of this model's
        detection generator."""
        return TFLitePostProcessConfig.from_generator(self.detection_generator, nms)

    def tflite_outputs(self, images, post_processing=True, post_process_config=None,
                       nms="fast"):
        """The outputs of a `.tflite` for normalised `images` (fixed size):
        the `TFLite_Detection_PostProcess` op's four outputs (boxes
        normalised to 0..1, 0-based foreground classes), or with
        `post_processing=False` the flat raw `class_logits` [B, N, C] and
        `box_deltas` [B, N, 4] over `anchors_for(images)`. The op's
        settings: `post_process_config`, else this model's detection
        generator's with `nms` ("fast" or "regular", see
        `TFLitePostProcessConfig.from_generator`)."""
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
        inclusive = 1.0 if self.detection_generator.pixel_inclusive_boxes else 0.0
        scale = np.array([height, width, height, width], "float32")
        anchors = (anchors + inclusive * np.array([0, 0, 1, 1], "float32")) / scale
        boxes, classes, scores, count = tflite_detection_post_process(
            class_logits, box_deltas, anchors,
            post_process_config or self.tflite_post_process_config(nms))
        if inclusive:
            boxes = boxes - ops.convert_to_tensor([0.0, 0.0, 1.0 / height, 1.0 / width])
        return {"detection_boxes": boxes, "detection_classes": classes,
                "detection_scores": scores, "num_detections": count}

    # --- parts -----------------------------------------------------------

    def parts(self):
        return {"backbone": self.backbone, "head": self.head}

    def class_specific_layers(self):
        return [self.head.class_predictor]

    # --- serialization ---------------------------------------------------

    def get_config(self):
        loss = self.detection_loss
        labeler = self.anchor_labeler
        decoder = self.detection_generator
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
            "activation": self.activation,
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

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "head_activation" in config:  # files of spinenet_tf <= 0.9
            config["activation"] = config.pop("head_activation")
        return super().from_config(config)
