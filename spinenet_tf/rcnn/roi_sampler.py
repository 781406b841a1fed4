"""Training ROIs for the box head: proposals matched to the ground truth,
sampled with a fixed foreground share."""

import keras
from keras import ops

from spinenet_tf.ops.balanced_sampling import sample_balanced_indices
from spinenet_tf.ops.box_matching import gather_rows, match_boxes
from spinenet_tf.ops.box_ops import box_iou


@keras.saving.register_keras_serializable(package="spinenet_tf")
class ROISampler(keras.layers.Layer):
    """Samples ROIs and their targets as tf-models-official's `ROISampler`.

    The ground-truth boxes are appended to the proposals (`mix_gt_boxes`);
    each candidate is matched to its best ground-truth box: foreground if
    the IoU is >= `foreground_iou_threshold`, background if it is in
    [`background_iou_low_threshold`, `background_iou_high_threshold`);
    padding (boxes with all coordinates < 0) takes no part. Then
    `num_samples` are drawn (`ops.balanced_sampling.sample_balanced_indices`),
    at most `foreground_fraction` of them foreground.

    With `skip_subsampling` (Cascade R-CNN's later stages) nothing is
    drawn: every candidate is returned with its targets.

    Call it on `(proposals [B, N, 4], boxes [B, M, 4], classes [B, M])`,
    classes -1 for padding. Returns a dict of the sampled `rois` [B, K, 4],
    their `matched_boxes` [B, K, 4] (zeros for background), `matched_classes`
    [B, K] (0 for background) and `matched_indices` [B, K] (the box's index
    in `boxes`, -1 for background), K = `num_samples` (every candidate with
    `skip_subsampling`).

    Args:
        num_samples: ROIs per image (512).
        foreground_fraction: the foreground's share at most (0.25).
        foreground_iou_threshold: (0.5).
        background_iou_high_threshold, background_iou_low_threshold: (0.5, 0).
        mix_gt_boxes: whether the ground truth joins the candidates.
        skip_subsampling: return every candidate, none drawn.
        seed: of the random draws.
    """

    def __init__(self, num_samples=512, foreground_fraction=0.25, foreground_iou_threshold=0.5,
                 background_iou_high_threshold=0.5, background_iou_low_threshold=0.0,
                 mix_gt_boxes=True, skip_subsampling=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not (background_iou_low_threshold <= background_iou_high_threshold
                <= foreground_iou_threshold):
            raise ValueError(
                "Need background_iou_low_threshold <= background_iou_high_threshold <= "
                "foreground_iou_threshold; received "
                f"{background_iou_low_threshold}, {background_iou_high_threshold}, "
                f"{foreground_iou_threshold}.")
        if int(num_samples) < 1 or not 0.0 < foreground_fraction <= 1.0:
            raise ValueError(
                "Need num_samples >= 1 and 0 < foreground_fraction <= 1; received "
                f"num_samples={num_samples}, foreground_fraction={foreground_fraction}.")
        self.num_samples = int(num_samples)
        self.foreground_fraction = float(foreground_fraction)
        self.foreground_iou_threshold = float(foreground_iou_threshold)
        self.background_iou_high_threshold = float(background_iou_high_threshold)
        self.background_iou_low_threshold = float(background_iou_low_threshold)
        self.mix_gt_boxes = bool(mix_gt_boxes)
        self.skip_subsampling = bool(skip_subsampling)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, proposals, boxes, classes):
        boxes = ops.cast(boxes, "float32")
        candidates = ops.cast(proposals, "float32")
        if self.mix_gt_boxes:
            candidates = ops.concatenate([candidates, boxes], axis=1)
        valid_boxes = ops.max(boxes, axis=-1) >= 0.0
        valid_candidates = ops.max(candidates, axis=-1) >= 0.0
        matched, best, foreground, background = match_boxes(
            box_iou(candidates, boxes), valid_boxes, self.foreground_iou_threshold,
            self.background_iou_high_threshold,
            negative_floor=self.background_iou_low_threshold)
        foreground = ops.logical_and(foreground, valid_candidates)
        background = ops.logical_and(background, valid_candidates)
        # Background and invalid candidates (padding, no box, an IoU below
        # the background floor) get class 0, no box and index -1; ignored
        # ones (IoU between the background and foreground bounds) keep their
        # match, as in the reference, and are drawn only as fillers.
        ignored = ops.logical_and(
            ops.logical_and(valid_candidates, best >= self.background_iou_high_threshold),
            ops.logical_not(foreground))
        keep = ops.logical_or(foreground, ignored)
        matched_classes = ops.where(keep, gather_rows(ops.cast(classes, "int32"), matched), 0)
        matched_boxes = ops.where(ops.expand_dims(keep, -1), gather_rows(boxes, matched), 0.0)
        matched = ops.where(keep, matched, -1)
        if self.skip_subsampling:
            return {"rois": candidates, "matched_boxes": matched_boxes,
                    "matched_classes": matched_classes, "matched_indices": matched}
        picked = sample_balanced_indices(foreground, background, self.num_samples,
                                         self.foreground_fraction, self.seed_generator)
        return {"rois": gather_rows(candidates, picked),
                "matched_boxes": gather_rows(matched_boxes, picked),
                "matched_classes": gather_rows(matched_classes, picked),
                "matched_indices": gather_rows(matched, picked)}

    def get_config(self):
        config = super().get_config()
        config.update(num_samples=self.num_samples, foreground_fraction=self.foreground_fraction,
                      foreground_iou_threshold=self.foreground_iou_threshold,
                      background_iou_high_threshold=self.background_iou_high_threshold,
                      background_iou_low_threshold=self.background_iou_low_threshold,
                      mix_gt_boxes=self.mix_gt_boxes, skip_subsampling=self.skip_subsampling,
                      seed=self.seed)
        return config
