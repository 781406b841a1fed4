"""Region proposals: the RPN's best boxes of every level, after NMS."""

import dataclasses

import keras
from keras import ops

from spinenet_tf.ops.box_ops import clip_boxes, decode_boxes
from spinenet_tf.ops.nms import sorted_nms_padded


@dataclasses.dataclass(frozen=True)
class ProposalSettings:
    """How many proposals to make and how to filter them (one set for
    training, one for inference; the reference's defaults).

    pre_nms_top_k: best boxes kept per level before NMS.
    pre_nms_score_threshold: boxes scoring at or below it are dropped (0: none).
    pre_nms_min_size_threshold: boxes with a side at or below it, or their
        centre outside the image, are dropped (0: no filter).
    nms_iou_threshold: NMS IoU per level (0: no NMS, the best boxes kept).
    num_proposals: proposals per image, over all levels.
    """

    pre_nms_top_k: int = dataclasses.field(default=2000, metadata={"at_least": 1})
    pre_nms_score_threshold: float = dataclasses.field(
        default=0.0, metadata={"at_least": 0.0, "at_most": 1.0})
    pre_nms_min_size_threshold: float = dataclasses.field(default=0.0,
                                                          metadata={"at_least": 0.0})
    nms_iou_threshold: float = dataclasses.field(default=0.7,
                                                 metadata={"at_least": 0.0, "at_most": 1.0})
    num_proposals: int = dataclasses.field(default=1000, metadata={"at_least": 1})

    def __post_init__(self):
        for name in ("pre_nms_top_k", "num_proposals"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"`{name}` must be >= 1; received {getattr(self, name)}.")
        if not 0.0 <= self.nms_iou_threshold <= 1.0:
            raise ValueError("`nms_iou_threshold` must be in [0, 1]; received "
                             f"{self.nms_iou_threshold}.")


@keras.saving.register_keras_serializable(package="spinenet_tf")
class MultilevelROIGenerator(keras.layers.Layer):
    """Turns RPN outputs into proposals, as tf-models-official's
    `MultilevelROIGenerator` does (its per-level NMS path).

    Per level: sigmoid scores; boxes decoded from their anchors and clipped
    to the image; the optional size/centre and score filters (filtered boxes
    become zeros); the `pre_nms_top_k` best; greedy NMS keeping at most
    `num_proposals`. Then the `num_proposals` best of all levels.

    Call it on `(scores, box_codes, anchors, image_shape)`: the RPN head's
    two dicts {"P3": [B, H, W, A], ...} / {"P3": [B, H, W, 4A], ...}, the
    anchors {"P3": [H, W, 4A], ...} (`AnchorGenerator.multilevel_anchors`)
    and image_shape [B, 2], the (height, width) of each image's content in
    the padded input. Returns `(boxes [B, P, 4], scores [B, P])`, P =
    min(num_proposals, candidates), zeros past the proposals found.

    Args:
        train: `ProposalSettings` in training (default: the reference's
            2000 / 0.7 / 1000).
        test: `ProposalSettings` in inference (1000 / 0.7 / 1000).
        pixel_inclusive_boxes: decode, clip and filter boxes in the TPU
            model zoo's convention (`spinenet_tf.ops.box_ops`).
    """

    def __init__(self, train=None, test=None, pixel_inclusive_boxes=False, **kwargs):
        super().__init__(**kwargs)
        self.pixel_inclusive_boxes = bool(pixel_inclusive_boxes)
        self.train_settings = self._settings(train, ProposalSettings())
        self.test_settings = self._settings(test, ProposalSettings(pre_nms_top_k=1000))

    @staticmethod
    def _settings(value, default):
        if value is None:
            return default
        if isinstance(value, dict):
            return ProposalSettings(**value)
        if isinstance(value, ProposalSettings):
            return value
        raise ValueError(f"Proposal settings must be a ProposalSettings or a dict; "
                         f"received {value!r}.")

    def call(self, scores, box_codes, anchors, image_shape, training=None):
        settings = self.train_settings if training else self.test_settings
        image_shape = ops.cast(image_shape, "float32")
        height, width = image_shape[:, 0], image_shape[:, 1]
        all_boxes, all_scores = [], []
        for level in sorted(scores, key=lambda name: int(str(name).lstrip("P"))):
            map_height, map_width, per_location = scores[level].shape[1:]
            count = map_height * map_width * per_location  # static, for any batch size
            level_scores = ops.sigmoid(ops.cast(
                ops.reshape(scores[level], (-1, count)), "float32"))
            codes = ops.reshape(box_codes[level], (-1, count, 4))
            level_anchors = ops.reshape(ops.convert_to_tensor(anchors[level], "float32"),
                                        (1, count, 4))
            inclusive = self.pixel_inclusive_boxes
            boxes = clip_boxes(decode_boxes(codes, level_anchors, pixel_inclusive=inclusive),
                               height, width, pixel_inclusive=inclusive)
            if settings.pre_nms_min_size_threshold > 0.0:
                boxes, level_scores = _filter_small_or_outside(
                    boxes, level_scores, height, width, settings.pre_nms_min_size_threshold,
                    inclusive)
            keep = min(count, settings.num_proposals)
            if settings.nms_iou_threshold > 0.0:
                if settings.pre_nms_score_threshold > 0.0:
                    passed = level_scores > settings.pre_nms_score_threshold
                    level_scores = ops.where(passed, level_scores, -1.0)
                    boxes = boxes * ops.cast(passed, boxes.dtype)[..., None]
                boxes, level_scores = _top_k(boxes, level_scores,
                                             min(count, settings.pre_nms_top_k))
                level_scores, boxes = sorted_nms_padded(
                    level_scores, boxes, keep, settings.nms_iou_threshold)
            else:
                boxes, level_scores = _top_k(boxes, level_scores, keep)
            all_boxes.append(boxes)
            all_scores.append(level_scores)
        boxes = ops.concatenate(all_boxes, axis=1)
        level_scores = ops.concatenate(all_scores, axis=1)
        return _top_k(boxes, level_scores, min(level_scores.shape[1], settings.num_proposals))

    def get_config(self):
        config = super().get_config()
        config.update(train=dataclasses.asdict(self.train_settings),
                      test=dataclasses.asdict(self.test_settings),
                      pixel_inclusive_boxes=self.pixel_inclusive_boxes)
        return config


def _top_k(boxes, scores, k):
    """The k best boxes by score, sorted."""
    top_scores, index = ops.top_k(scores, k, sorted=True)
    return ops.take_along_axis(boxes, index[..., None], axis=1), top_scores


def _filter_small_or_outside(boxes, scores, height, width, min_size, pixel_inclusive):
    """Zeros (box and score) for boxes with a side <= min_size or the centre
    outside the image, as the reference's `filter_boxes` (the TPU code's:
    sides counted inclusively and at least 1)."""
    extra = 1.0 if pixel_inclusive else 0.0
    min_size = max(min_size, extra)
    box_height = boxes[..., 2] - boxes[..., 0] + extra
    box_width = boxes[..., 3] - boxes[..., 1] + extra
    center_y = boxes[..., 0] + 0.5 * box_height
    center_x = boxes[..., 1] + 0.5 * box_width
    keep = ((box_height > min_size) & (box_width > min_size)
            & (center_y > 0.0) & (center_y < height[:, None])
            & (center_x > 0.0) & (center_x < width[:, None]))
    return boxes * ops.cast(keep, boxes.dtype)[..., None], ops.where(keep, scores, 0.0)
