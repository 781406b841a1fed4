"""A post-processing graph that the TFLite converter turns into the standard
`TFLite_Detection_PostProcess` custom op (the 4-output SSD/RetinaNet op that
TFLite's object-detection tooling and accelerators expect).

TensorFlow has no op with that behaviour, so, as tf-models-official does,
the graph ends in an empty `tf.function` annotated with
`experimental_implements`; the MLIR converter replaces it with the custom op
(see tensorflow/compiler/mlir/lite/utils/nms_utils.cc). The function is only
meaningful after conversion: run in TensorFlow it returns placeholders.
"""

import dataclasses

from spinenet_tf.ops.anchor_generator import flatten_multilevel

# The op's two NMS algorithms (see `TFLitePostProcessConfig.from_generator`).
NMS_TYPES = ("fast", "regular")


@dataclasses.dataclass
class TFLitePostProcessConfig:
    """Attributes of the TFLite op; defaults as in tf-models-official.

    `use_regular_nms=False` is the fast class-agnostic NMS: boxes compete
    on their best class score, and each kept box is reported with its
    `max_classes_per_detection` best classes, one output row per (box,
    class), grouped by box (so with more than 1, rows are not sorted by
    score and low-scoring classes of a kept box appear). Output classes are
    0-based foreground indices (our class id - 1), the TFLite convention;
    the background logit is passed along and skipped by the op.
    """

    max_detections: int = 200
    max_classes_per_detection: int = 5
    detections_per_class: int = 5
    use_regular_nms: bool = False
    nms_score_threshold: float = 0.1
    nms_iou_threshold: float = 0.5
    y_scale: float = 1.0
    x_scale: float = 1.0
    h_scale: float = 1.0
    w_scale: float = 1.0

    @classmethod
    def from_generator(cls, generator, nms="fast"):
        """The op's settings for a detection generator (RetinaNet's
        `MultilevelDetectionGenerator`): its score threshold,
        IoU and detection count, one class per output row, rows sorted by
        score.

        nms="fast" (default): the op's class-agnostic NMS; boxes compete on
        their best class score. It differs from the Keras generator only where
        boxes of different classes overlap (demo model: COCO AP 0.647
        against Keras' 0.662).
        nms="regular": per-class NMS, what the Keras generator does (demo:
        0.658), but LiteRT's multi-threaded regular NMS (ai-edge-litert 2.3;
        TensorFlow issue 56058) never processes the class with 0-based
        index `num_threads` when 1 < num_threads < number of classes: that
        class is silently never detected. Run such a file with 1 thread.
        """
        if nms not in NMS_TYPES:
            raise ValueError(f"nms must be one of {list(NMS_TYPES)}; received {nms!r}.")
        return cls(
            max_detections=generator.max_detections, max_classes_per_detection=1,
            detections_per_class=generator.max_detections,
            use_regular_nms=nms == "regular",
            nms_score_threshold=generator.pre_nms_score_threshold,
            nms_iou_threshold=generator.nms_iou_threshold)

    def implements_signature(self, num_classes):
        """The `experimental_implements` string describing the op."""
        attrs = [
            ("max_detections", "i", self.max_detections),
            ("max_classes_per_detection", "i", self.max_classes_per_detection),
            ("detections_per_class", "i", self.detections_per_class),
            ("use_regular_nms", "b", str(bool(self.use_regular_nms)).lower()),
            ("nms_score_threshold", "f", f"{self.nms_score_threshold:f}"),
            ("nms_iou_threshold", "f", f"{self.nms_iou_threshold:f}"),
            ("y_scale", "f", f"{self.y_scale:f}"),
            ("x_scale", "f", f"{self.x_scale:f}"),
            ("h_scale", "f", f"{self.h_scale:f}"),
            ("w_scale", "f", f"{self.w_scale:f}"),
            ("num_classes", "i", num_classes),
        ]
        return " ".join(
            ['name: "TFLite_Detection_PostProcess"']
            + [f'attr {{ key: "{k}" value {{ {t}: {v} }} }}' for k, t, v in attrs])


def tflite_detection_post_process(class_logits, box_deltas, anchors,
                                  config=None):
    """Builds the graph that converts to `TFLite_Detection_PostProcess`.

    Args:
        class_logits, box_deltas: the head's per-level dicts (batch 1).
        anchors: [N, 4] (ymin, xmin, ymax, xmax) anchors in pixels.
        config: a `TFLitePostProcessConfig`.

    Returns:
        (boxes, classes, scores, num_detections): after conversion the op's
        outputs, [1, K, 4] boxes (ymin, xmin, ymax, xmax) in the anchors'
        pixel units, [1, K] classes, [1, K] scores and [1] count.
    """
    import tensorflow as tf

    config = config or TFLitePostProcessConfig()
    level = min(box_deltas, key=lambda key: int(str(key).lstrip("P")))
    anchors_per_location = box_deltas[level].shape[-1] // 4
    num_classes = class_logits[level].shape[-1] // anchors_per_location
    scores = tf.sigmoid(flatten_multilevel(class_logits, num_classes))
    boxes = flatten_multilevel(box_deltas, 4)
    anchors = tf.convert_to_tensor(anchors, tf.float32)
    center_size_anchors = tf.stack([
        (anchors[:, 0] + anchors[:, 2]) / 2, (anchors[:, 1] + anchors[:, 3]) / 2,
        anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]], axis=-1)

    # `num_classes` excludes the background column, which the op then skips.
    @tf.function(experimental_implements=config.implements_signature(
        num_classes - 1))
    def post_process(input_boxes, input_scores, input_anchors):
        del input_boxes, input_scores, input_anchors
        return (tf.constant(0.0, name="boxes"), tf.constant(0.0, name="classes"),
                tf.constant(0.0, name="scores"),
                tf.constant(0.0, name="num_detections"))

    return post_process(boxes, scores, center_size_anchors)
