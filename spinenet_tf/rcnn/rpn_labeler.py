"""Training targets of the RPN: objectness and box codes per anchor."""

import keras
from keras import ops

from spinenet_tf.ops.balanced_sampling import sample_balanced
from spinenet_tf.ops.box_matching import gather_rows, match_boxes
from spinenet_tf.ops.box_ops import box_iou, encode_boxes


@keras.saving.register_keras_serializable(package="spinenet_tf")
class RPNLabeler(keras.layers.Layer):
    """Labels anchors as tf-models-official's `RpnAnchorLabeler` does.

    An anchor whose best IoU with a ground-truth box is >= `match_threshold`
    is positive, < `unmatched_threshold` negative, in between ignored; each
    box also claims its best anchor. Of the positives and negatives,
    `samples_per_image` are drawn at random, at most `positive_fraction` of
    them positive: the score targets are 1 / 0 for the drawn ones and -1
    for all others. Box targets are the codes of every positive anchor
    (drawn or not, as in the reference), zero elsewhere.

    Call it on `(anchors [N, 4], boxes [B, M, 4], classes [B, M])`, classes
    -1 for padding; returns `(score_targets [B, N] int32, box_targets
    [B, N, 4])`.

    Args:
        match_threshold, unmatched_threshold: IoU bounds (0.7, 0.3).
        samples_per_image: anchors drawn per image (256).
        positive_fraction: positives' share at most (0.5).
        seed: of the random draws.
    """

    def __init__(self, match_threshold=0.7, unmatched_threshold=0.3, samples_per_image=256,
                 positive_fraction=0.5, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= unmatched_threshold <= match_threshold <= 1.0:
            raise ValueError(
                "Need 0 <= unmatched_threshold <= match_threshold <= 1; received "
                f"unmatched_threshold={unmatched_threshold}, match_threshold={match_threshold}.")
        if int(samples_per_image) < 1 or not 0.0 < positive_fraction <= 1.0:
            raise ValueError(
                "Need samples_per_image >= 1 and 0 < positive_fraction <= 1; received "
                f"samples_per_image={samples_per_image}, positive_fraction={positive_fraction}.")
        self.match_threshold = float(match_threshold)
        self.unmatched_threshold = float(unmatched_threshold)
        self.samples_per_image = int(samples_per_image)
        self.positive_fraction = float(positive_fraction)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, anchors, boxes, classes):
        anchors = ops.cast(anchors, "float32")
        boxes = ops.cast(boxes, "float32")
        matched, _, positive, negative = match_boxes(
            box_iou(anchors, boxes), classes >= 0, self.match_threshold,
            self.unmatched_threshold, force_match=True)
        sampled = sample_balanced(positive, negative, self.samples_per_image,
                                  self.positive_fraction, self.seed_generator)
        score_targets = ops.where(ops.logical_and(sampled, positive), 1,
                                  ops.where(sampled, 0, -1))
        codes = encode_boxes(gather_rows(boxes, matched), anchors)
        box_targets = ops.where(ops.expand_dims(positive, -1), codes, 0.0)
        return ops.cast(score_targets, "int32"), box_targets

    def get_config(self):
        config = super().get_config()
        config.update(match_threshold=self.match_threshold,
                      unmatched_threshold=self.unmatched_threshold,
                      samples_per_image=self.samples_per_image,
                      positive_fraction=self.positive_fraction, seed=self.seed)
        return config
