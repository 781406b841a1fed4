"""ROI align over a feature pyramid: a fixed-size feature crop per box."""

import math

import keras
from keras import ops

from spinenet_tf.ops.bilinear_crops import bilinear_crops

# The level of a box of canonical size 224 x 224 (He et al.'s FPN rule).
CANONICAL_SIZE = 224.0
CANONICAL_LEVEL = 4


@keras.saving.register_keras_serializable(package="spinenet_tf")
class MultilevelROIAligner(keras.layers.Layer):
    """ROI align on a feature pyramid, as tf-models-official's
    `MultilevelROIAligner` (`multilevel_crop_and_resize`) computes it.

    Each box goes to level floor(log2(sqrt(area) / 224)) + 4, clamped to
    the pyramid's levels (empty boxes to the lowest), and is divided into
    `crop_size` x `crop_size` bins; each bin's feature is the bilinear
    interpolation of the level's map at one point, `sample_offset` of the
    way into the bin. Grid points are clamped to the map's last row and
    column as the reference clamps them.

    Call it on `(features, boxes)`: features a dict {"P3": [B, H3, W3, C],
    ...} of equal width, boxes [B, N, 4] as (y1, x1, y2, x2) in image
    pixels; it returns [B, N, crop_size, crop_size, C].

    Args:
        crop_size: bins per side (7 for the box head, 14 for the mask head).
        sample_offset: where in a bin its point lies, in [0, 1].
    """

    def __init__(self, crop_size=7, sample_offset=0.5, **kwargs):
        super().__init__(**kwargs)
        if int(crop_size) < 1:
            raise ValueError(f"`crop_size` must be >= 1; received {crop_size}.")
        if not 0.0 <= float(sample_offset) <= 1.0:
            raise ValueError(f"`sample_offset` must be in [0, 1]; received {sample_offset}.")
        self.crop_size = int(crop_size)
        self.sample_offset = float(sample_offset)

    @staticmethod
    def _levels_of(features):
        names = sorted(features, key=lambda name: int(name[1:]))
        return [int(name[1:]) for name in names], names

    def box_levels(self, boxes, min_level, max_level):
        """The pyramid level of each box, [B, N] int32."""
        boxes = ops.cast(boxes, "float32")
        area = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
        positive = area > 0
        size = ops.sqrt(ops.where(positive, area, 1.0))
        level = ops.floor(ops.log(size / CANONICAL_SIZE) / math.log(2.0)) + CANONICAL_LEVEL
        level = ops.where(positive, level, float(min_level))
        return ops.cast(ops.clip(level, min_level, max_level), "int32")

    def call(self, features, boxes):
        levels, names = self._levels_of(features)
        min_level, max_level = levels[0], levels[-1]
        if levels != list(range(min_level, max_level + 1)):
            raise ValueError(f"MultilevelROIAligner needs consecutive levels; received "
                             f"{names}.")
        channels = features[names[0]].shape[-1]
        heights = [features[name].shape[1] for name in names]
        widths = [features[name].shape[2] for name in names]
        if None in heights + widths:
            raise ValueError("MultilevelROIAligner needs feature maps of known size; received "
                             f"{ {name: tuple(features[name].shape) for name in names} }.")
        batch = ops.shape(boxes)[0]
        # All levels of all images in one [B * sum(H * W), C] table.
        per_image = sum(h * w for h, w in zip(heights, widths))
        offsets = [0]
        for h, w in zip(heights[:-1], widths[:-1]):
            offsets.append(offsets[-1] + h * w)
        table = ops.concatenate(
            [ops.reshape(features[name], (batch, -1, channels)) for name in names], axis=1)
        table = ops.reshape(table, (-1, channels))

        boxes = ops.cast(boxes, "float32")
        level = self.box_levels(boxes, min_level, max_level) - min_level  # [B, N]
        stride = ops.take(ops.array([2.0 ** l for l in levels], "float32"), level)
        on_level = ops.stack(
            [boxes[..., 0], boxes[..., 1], boxes[..., 2] - boxes[..., 0],
             boxes[..., 3] - boxes[..., 1]], axis=-1) / stride[..., None]
        base = (ops.arange(batch, dtype="int32")[:, None] * per_image
                + ops.take(ops.array(offsets, "int32"), level))  # [B, N]
        return bilinear_crops(
            table, base, ops.take(ops.array(widths, "int32"), level), on_level,
            ops.take(ops.array([h - 1.0 for h in heights], "float32"), level),
            ops.take(ops.array([w - 1.0 for w in widths], "float32"), level),
            self.crop_size, self.sample_offset)

    def compute_output_shape(self, features_shape, boxes_shape):
        channels = next(iter(features_shape.values()))[-1]
        return (boxes_shape[0], boxes_shape[1], self.crop_size, self.crop_size, channels)

    def get_config(self):
        config = super().get_config()
        config.update(crop_size=self.crop_size, sample_offset=self.sample_offset)
        return config
