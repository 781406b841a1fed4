"""Multi-level anchor boxes, laid out as the heads predict them: shared by
RetinaNet's head and Mask R-CNN's RPN."""

import numpy as np

# The TPU model zoo generates each location's anchors in this aspect order
# (Model Garden: 0.5, 1, 2), so its prediction channels come in this order.
TPU_ASPECT_RATIOS = (1.0, 2.0, 0.5)


class AnchorGenerator:
    """Anchors for levels `min_level..max_level` of an image of a given size.

    At level `l` the stride is `2**l`, anchor centres sit at the stride
    centres, and every location has `num_scales * len(aspect_ratios)`
    anchors, scale-major: side `anchor_size * 2**l * 2**(s / num_scales)`,
    with width / height = aspect ratio. Boxes are `(ymin, xmin, ymax, xmax)`
    in pixels, as in tf-models-official's `Anchor`.

    Args:
        min_level, max_level: pyramid levels, e.g. 3 and 7.
        num_scales: intermediate scales per octave (3 in the paper).
        aspect_ratios: width / height ratios, e.g. (0.5, 1.0, 2.0).
        anchor_size: anchor side in units of the level's stride
            (3 for SpineNet-49 and smaller, 4 for 143 and 190).
    """

    def __init__(self, min_level=3, max_level=7, num_scales=3,
                 aspect_ratios=(0.5, 1.0, 2.0), anchor_size=3.0):
        if not 1 <= min_level <= max_level:
            raise ValueError(
                "Need 1 <= min_level <= max_level; received "
                f"min_level={min_level}, max_level={max_level}.")
        if num_scales < 1 or not aspect_ratios or min(aspect_ratios) <= 0:
            raise ValueError(
                "Need num_scales >= 1 and positive aspect_ratios; received "
                f"num_scales={num_scales}, aspect_ratios={aspect_ratios}.")
        if anchor_size <= 0:
            raise ValueError(f"`anchor_size` must be > 0; received {anchor_size}.")
        self.min_level = int(min_level)
        self.max_level = int(max_level)
        self.num_scales = int(num_scales)
        self.aspect_ratios = tuple(float(a) for a in aspect_ratios)
        self.anchor_size = float(anchor_size)
        self._cache = {}

    @property
    def anchors_per_location(self):
        return self.num_scales * len(self.aspect_ratios)

    def check_image_size(self, height, width):
        """Raises unless both sides are known and divisible by 2**max_level."""
        stride = 2**self.max_level
        if not all(isinstance(side, (int, np.integer)) for side in (height, width)):
            raise ValueError(
                "Anchors need a static image size; received height="
                f"{height!r}, width={width!r}. Build the model with a fixed "
                "input_shape or feed fixed-size batches.")
        height, width = int(height), int(width)
        if height % stride or width % stride or height <= 0 or width <= 0:
            raise ValueError(
                f"Image size {height}x{width} is not divisible by "
                f"2**max_level = {stride}; pad or resize the images.")

    def multilevel_anchors(self, height, width):
        """{"P3": [H/8, W/8, A*4], ...} float32 anchors for one image."""
        key = (height, width)
        if key not in self._cache:
            self.check_image_size(*key)
            self._cache[key] = {
                f"P{level}": self._level_anchors(level, *key)
                for level in range(self.min_level, self.max_level + 1)
            }
        return self._cache[key]

    def flat_anchors(self, height, width):
        """[N, 4] anchors in the order of the flattened head outputs."""
        return np.concatenate([
            a.reshape(-1, 4)
            for a in self.multilevel_anchors(height, width).values()
        ])

    def _level_anchors(self, level, height, width):
        stride = np.float32(2**level)
        y = np.arange(height // 2**level, dtype=np.float32) * stride + stride / 2
        x = np.arange(width // 2**level, dtype=np.float32) * stride + stride / 2
        xv, yv = np.meshgrid(x, y)
        boxes = []
        for scale in range(self.num_scales):
            for ratio in self.aspect_ratios:
                side = self.anchor_size * 2**level * 2 ** (scale / self.num_scales)
                half_x = np.float32(side * ratio**0.5 / 2.0)
                half_y = np.float32(side * ratio**-0.5 / 2.0)
                boxes.append(np.stack(
                    [yv - half_y, xv - half_x, yv + half_y, xv + half_x], -1))
        return np.concatenate(boxes, axis=-1).astype(np.float32)



def flatten_multilevel(maps, last_dim):
    """{"P3": [B, H, W, A * last_dim], ...} -> [B, N, last_dim], anchor order.

    Levels are taken in increasing order, as `AnchorGenerator.flat_anchors`
    lays the anchors out.
    """
    from keras import ops

    levels = sorted(maps, key=lambda key: int(str(key).lstrip("P")))
    flat = []
    for key in levels:
        value = maps[key]
        batch = ops.shape(value)[0]
        height, width, channels = value.shape[1:]
        # Static anchor counts when the map size is known (a dynamic batch
        # must not make the anchor axis unknown).
        count = -1 if None in (height, width, channels) else (
            height * width * channels // last_dim)
        flat.append(ops.reshape(value, (batch, count, last_dim)))
    return ops.concatenate(flat, axis=1)
