"""The model's input contract: pixels in, normalised model input out, with
one image geometry for training, evaluation, serving and TFLite."""

import keras
import numpy as np
import tensorflow as tf

# ImageNet statistics of the reference, on the 0..1 scale.
MEAN_RGB = (0.485, 0.456, 0.406)
STDDEV_RGB = (0.229, 0.224, 0.225)
# The reference's classification evaluation crop: 224 / 256 of the short side.
CENTER_CROP_FRACTION = 0.875


@keras.saving.register_keras_serializable(package="spinenet_tf")
class ImagePreprocessor(keras.layers.Layer):
    """Turns RGB pixels into what a SpineNet model takes, in one geometry.

    The one input contract of the package: images are RGB **pixel values on
    the 0..255 scale**, uint8 or float (a float image in 0..1 is not
    detected; scale it first). Every consumer goes through this layer: the
    training and evaluation input pipelines, serving signatures, TFLite
    calibration and verification, evaluation and drawing (`denormalize`).

    Geometry, chosen by `center_crop_fraction` (the task's):
    - None, detection (letterbox): the image is resized so that it fits
      `image_size` with its aspect ratio kept (bilinear) and padded at the
      bottom and right with the mean colour, which is 0 once normalised (as
      the reference pads its normalised image with 0). In training,
      `scale_range` jitters the target size and a random window of the
      scaled image is kept (the reference's `resize_and_crop_image`).
    - a fraction, classification: a centred square of that fraction of the
      short side, resized to `image_size` (the reference's evaluation,
      0.875); in training, a random crop of 8-100 % of the area and aspect
      ratio 3/4..4/3, resized (the reference's Inception-style crop).

    - `geometry(pixels)` / `training_geometry(pixels, seed, ...)`: one
      `[H, W, 3]` pixel image -> `[*image_size, 3]` float pixels and the
      reference's `image_info` [4, 2]: original (h, w), output (h, w), scale
      (y, x), offset (y, x). A point of the original maps to
      `point * scale - offset` in the output.
    - `normalize(pixels)`: `(pixels - 255 * mean) / (255 * stddev)`, float32.
    - `preprocess(pixels)`: geometry then normalisation; `call(images)` does
      it for a `[B, H, W, 3]` batch of any size.

    It runs TensorFlow ops (tf.data and serving graphs); the models
    themselves take its output and stay backend-agnostic.

    Args:
        image_size: (height, width) of the model input.
        mean, stddev: per-channel statistics on the 0..1 scale.
        center_crop_fraction: None (letterbox, detection) or the centre
            crop's share of the short side (classification).
    """

    def __init__(self, image_size, mean=MEAN_RGB, stddev=STDDEV_RGB,
                 center_crop_fraction=None, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        if (len(tuple(image_size)) != 2
                or not all(isinstance(s, (int, np.integer)) and s > 0 for s in image_size)):
            raise ValueError("`image_size` must be (height, width) in positive "
                             f"integers; received {image_size!r}.")
        if len(mean) != 3 or len(stddev) != 3 or min(stddev) <= 0:
            raise ValueError("`mean` and `stddev` need 3 channels, stddev > 0; "
                             f"received mean={mean!r}, stddev={stddev!r}.")
        if center_crop_fraction is not None and not 0 < center_crop_fraction <= 1:
            raise ValueError("`center_crop_fraction` must be None or in (0, 1]; "
                             f"received {center_crop_fraction!r}.")
        self.image_size = tuple(int(s) for s in image_size)
        self.mean = tuple(float(m) for m in mean)
        self.stddev = tuple(float(s) for s in stddev)
        self.center_crop_fraction = (None if center_crop_fraction is None
                                     else float(center_crop_fraction))
        self.built = True

    # --- normalisation ---------------------------------------------------

    @property
    def mean_pixel(self):
        """The mean colour on the 0..255 scale: what padding is filled with."""
        return np.asarray(self.mean, "float32") * 255.0

    def normalize(self, images):
        """Pixels (0..255, any dtype) -> normalised float32."""
        scale = tf.constant(np.asarray(self.stddev, "float32") * 255.0)
        return (tf.cast(images, tf.float32) - tf.constant(self.mean_pixel)) / scale

    def denormalize(self, images):
        """The inverse of `normalize`: float pixels on the 0..255 scale."""
        scale = np.asarray(self.stddev, "float32") * 255.0
        return images * scale + self.mean_pixel

    # --- geometry ----------------------------------------------------------

    def geometry(self, image):
        """One [H, W, 3] pixel image in the evaluation / serving geometry:
        float pixels of `image_size` and its `image_info`."""
        if self.center_crop_fraction is None:
            return self._letterbox(image, 1.0, tf.zeros(2))
        size = tf.cast(tf.shape(image)[:2], tf.float32)
        side = self.center_crop_fraction * tf.reduce_min(size)
        offset = tf.floor((size - side) / 2.0)
        side = tf.floor(side)
        return self._crop_and_resize(image, offset, tf.stack([side, side]))

    def training_geometry(self, image, seed, scale_range=(1.0, 1.0),
                          crop_area_range=(0.08, 1.0)):
        """The training geometry of one [H, W, 3] pixel image, random by the
        stateless `seed` ([2] int): letterbox with the target size scaled by
        a factor in `scale_range` and a random window kept, or for a
        centre-crop preprocessor a random crop of `crop_area_range` of the
        area (the centre crop when no crop is found, as the reference)."""
        if self.center_crop_fraction is None:
            low, high = (float(v) for v in scale_range)
            if not 0 < low <= high:
                raise ValueError("Need 0 < scale_range[0] <= scale_range[1]; received "
                                 f"{scale_range!r}.")
            if (low, high) == (1.0, 1.0):
                return self._letterbox(image, 1.0, tf.zeros(2))
            random_scale = tf.random.stateless_uniform([], seed, low, high)
            fraction = (tf.random.stateless_uniform([2], seed + [0, 1], 0, 1)
                        if high > 1.0 else tf.zeros(2))
            return self._letterbox(image, random_scale, fraction)
        shape = tf.shape(image)
        begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
            shape, tf.constant([[[0.0, 0.0, 1.0, 1.0]]]), seed=seed,
            min_object_covered=crop_area_range[0], aspect_ratio_range=(3 / 4, 4 / 3),
            area_range=crop_area_range, max_attempts=10)
        whole = tf.reduce_all(tf.equal(crop_size[:2], shape[:2]))
        return tf.cond(
            whole, lambda: self.geometry(image),
            lambda: self._crop_and_resize(image, tf.cast(begin[:2], tf.float32),
                                          tf.cast(crop_size[:2], tf.float32)))

    def _letterbox(self, image, target_scale, window_fraction):
        """Resize to fit `target_scale * image_size` (aspect ratio kept), keep
        the window at `window_fraction` of the room left over, pad with the
        mean colour to `image_size`."""
        out_h, out_w = self.image_size
        desired = tf.constant([out_h, out_w], tf.float32)
        size = tf.cast(tf.shape(image)[:2], tf.float32)
        scale = tf.reduce_min(tf.round(target_scale * desired) / size)
        resized_size = tf.round(size * scale)
        offset = tf.round(tf.maximum(resized_size - desired, 0.0) * window_fraction)
        resized = tf.image.resize(tf.cast(image, tf.float32),
                                  tf.cast(resized_size, tf.int32))
        begin = tf.cast(offset, tf.int32)
        window = resized[begin[0]:begin[0] + out_h, begin[1]:begin[1] + out_w]
        window_size = tf.shape(window)[:2]
        padded = tf.pad(window - self.mean_pixel,
                        [[0, out_h - window_size[0]], [0, out_w - window_size[1]], [0, 0]])
        image_info = tf.stack([size, desired, resized_size / size, offset])
        return tf.ensure_shape(padded + self.mean_pixel, self.image_size + (3,)), image_info

    def _crop_and_resize(self, image, offset, crop_size):
        begin, extent = tf.cast(offset, tf.int32), tf.cast(crop_size, tf.int32)
        crop = image[begin[0]:begin[0] + extent[0], begin[1]:begin[1] + extent[1]]
        output = tf.constant(self.image_size, tf.float32)
        resized = tf.image.resize(tf.cast(crop, tf.float32), self.image_size)
        scale = output / crop_size
        image_info = tf.stack([tf.cast(tf.shape(image)[:2], tf.float32), output, scale,
                               offset * scale])
        return resized, image_info

    # --- what the consumers call -------------------------------------------

    def preprocess(self, image):
        """One [H, W, 3] pixel image -> (model input, image_info)."""
        pixels, image_info = self.geometry(image)
        return self.normalize(pixels), image_info

    def call(self, images):
        return tf.map_fn(
            self.preprocess, images,
            fn_output_signature=(tf.TensorSpec(self.image_size + (3,), tf.float32),
                                 tf.TensorSpec([4, 2], tf.float32)))

    def get_config(self):
        config = super().get_config()
        config.update(image_size=list(self.image_size), mean=list(self.mean),
                      stddev=list(self.stddev),
                      center_crop_fraction=self.center_crop_fraction)
        return config
