"""Training targets of the mask head: the foreground ROIs' masks."""

import keras
from keras import ops

from spinenet_tf.ops.bilinear_crops import bilinear_crops
from spinenet_tf.ops.box_matching import gather_rows

# Zero pixels around each ground-truth mask before sampling (the reference's).
MASK_PADDING = 2
EPSILON = 1e-8


@keras.saving.register_keras_serializable(package="spinenet_tf")
class MaskSampler(keras.layers.Layer):
    """Picks foreground ROIs and crops their masks, as tf-models-official's
    `MaskSampler` does.

    The first `num_samples` foreground ROIs (in the ROI sampler's order;
    background ROIs fill up when there are fewer) are taken; each one's
    ground-truth mask, given cropped to its box, is resampled into the ROI
    at `target_size` x `target_size` (bilinear, one point per bin, the mask
    padded with 2 zero pixels).

    Call it on `(sampled, masks)`: `sampled` the `ROISampler`'s dict and
    masks [B, M, S, S] (each box's mask, cropped to the box). Returns
    `(rois [B, K, 4], classes [B, K] (0 for background fillers), targets
    [B, K, target_size, target_size])`, K = `num_samples`.

    Args:
        num_samples: ROIs with mask targets per image (128).
        target_size: side of the mask targets (28).
    """

    def __init__(self, num_samples=128, target_size=28, **kwargs):
        super().__init__(**kwargs)
        if int(num_samples) < 1 or int(target_size) < 1:
            raise ValueError("Need num_samples >= 1 and target_size >= 1; received "
                             f"num_samples={num_samples}, target_size={target_size}.")
        self.num_samples = int(num_samples)
        self.target_size = int(target_size)

    def call(self, sampled, masks):
        foreground = ops.cast(sampled["matched_classes"] > 0, "int32")
        picked = ops.top_k(foreground, k=self.num_samples)[1]
        rois = gather_rows(sampled["rois"], picked)
        boxes = gather_rows(sampled["matched_boxes"], picked)
        classes = gather_rows(sampled["matched_classes"], picked)
        indices = ops.maximum(gather_rows(sampled["matched_indices"], picked), 0)
        return rois, classes, self.crop_masks(masks, indices, boxes, rois)

    def crop_masks(self, masks, indices, boxes, rois):
        """Mask `indices` [B, K] of `masks` [B, M, S, S] (each cropped to
        its box in `boxes` [B, K, 4]) resampled into `rois` [B, K, 4]."""
        masks = ops.cast(masks, "float32")
        num_masks, height, width = masks.shape[1], masks.shape[2], masks.shape[3]
        pad = MASK_PADDING
        padded = ops.pad(masks, [[0, 0], [0, 0], [pad, pad], [pad, pad]])
        table = ops.reshape(padded, (-1, 1))
        pixels = (height + 2 * pad) * (width + 2 * pad)
        batch = ops.shape(indices)[0]
        base = (ops.arange(batch, dtype="int32")[:, None] * num_masks + indices) * pixels
        boxes, rois = ops.cast(boxes, "float32"), ops.cast(rois, "float32")
        box_height = boxes[..., 2] - boxes[..., 0] + EPSILON
        box_width = boxes[..., 3] - boxes[..., 1] + EPSILON
        # The ROI in the padded mask's pixels. (The reference scales x by
        # the height and the sizes by the width; masks are square, so alike.)
        in_mask = ops.stack(
            [(rois[..., 0] - boxes[..., 0]) * height / box_height + pad,
             (rois[..., 1] - boxes[..., 1]) * width / box_width + pad,
             (rois[..., 2] - rois[..., 0]) * height / box_height,
             (rois[..., 3] - rois[..., 1]) * width / box_width], axis=-1)
        last_row = ops.full(ops.shape(indices), height + 2 * pad - 1.0, "float32")
        last_column = ops.full(ops.shape(indices), width + 2 * pad - 1.0, "float32")
        crops = bilinear_crops(table, base, ops.full(ops.shape(indices), width + 2 * pad, "int32"),
                               in_mask, last_row, last_column, self.target_size, 0.5)
        return crops[..., 0]

    def get_config(self):
        config = super().get_config()
        config.update(num_samples=self.num_samples, target_size=self.target_size)
        return config
