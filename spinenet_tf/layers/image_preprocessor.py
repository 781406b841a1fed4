"""The model's input contract: pixels in, normalised and padded images out."""

import keras
import numpy as np
import tensorflow as tf

# ImageNet statistics of the reference, on the 0..1 scale.
MEAN_RGB = (0.485, 0.456, 0.406)
STDDEV_RGB = (0.229, 0.224, 0.225)


@keras.saving.register_keras_serializable(package="spinenet_tf")
class ImagePreprocessor(keras.layers.Layer):
    """Turns RGB pixels into what a SpineNet model takes.

    The one input contract of the package: images are RGB **pixel values on
    the 0..255 scale**, uint8 or float (a float image in 0..1 is not
    detected; scale it first). Every consumer goes through this layer:
    the training and evaluation input pipelines, serving signatures, TFLite
    export, evaluation and drawing (`denormalize`).

    - `normalize(images)`: `(pixels - 255 * mean) / (255 * stddev)`, float32,
      any shape ending in 3 channels (the reference's arithmetic).
    - `resize_and_pad(image)`: one `[H, W, C]` image resized so that it fits
      `image_size` with its aspect ratio kept (bilinear), zero-padded at the
      bottom and right; returns it and the reference's `image_info` [4, 2]:
      original (h, w), output (h, w), scale (y, x), offset (0, 0). A box in
      the original image maps to the output by multiplying with the scale.
    - `call(images)`: a `[B, H, W, 3]` batch of any size -> normalised,
      resized and padded `[B, *image_size, 3]` and `image_info` `[B, 4, 2]`
      (normalised first, so the padding is 0 in the normalised space, as
      in the reference's evaluation).

    It runs TensorFlow ops (tf.data and serving graphs); the models
    themselves take its output and stay backend-agnostic.

    Args:
        image_size: (height, width) of the model input.
        mean, stddev: per-channel statistics on the 0..1 scale.
    """

    def __init__(self, image_size, mean=MEAN_RGB, stddev=STDDEV_RGB, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        if (len(tuple(image_size)) != 2
                or not all(isinstance(s, (int, np.integer)) and s > 0 for s in image_size)):
            raise ValueError("`image_size` must be (height, width) in positive "
                             f"integers; received {image_size!r}.")
        if len(mean) != 3 or len(stddev) != 3 or min(stddev) <= 0:
            raise ValueError("`mean` and `stddev` need 3 channels, stddev > 0; "
                             f"received mean={mean!r}, stddev={stddev!r}.")
        self.image_size = tuple(int(s) for s in image_size)
        self.mean = tuple(float(m) for m in mean)
        self.stddev = tuple(float(s) for s in stddev)
        self.built = True

    def normalize(self, images):
        """Pixels (0..255, any dtype) -> normalised float32."""
        offset = tf.constant(np.asarray(self.mean, "float32") * 255.0)
        scale = tf.constant(np.asarray(self.stddev, "float32") * 255.0)
        return (tf.cast(images, tf.float32) - offset) / scale

    def denormalize(self, images):
        """The inverse of `normalize`: float pixels on the 0..255 scale."""
        offset = np.asarray(self.mean, "float32") * 255.0
        scale = np.asarray(self.stddev, "float32") * 255.0
        return images * scale + offset

    def resize_and_pad(self, image):
        """Fits one [H, W, C] image into `image_size`; returns it and image_info."""
        output_size = tf.constant(self.image_size, tf.float32)
        original = tf.cast(tf.shape(image)[:2], tf.float32)
        scale = tf.reduce_min(output_size / original)
        resized_size = tf.round(original * scale)
        resized = tf.image.resize(tf.cast(image, tf.float32),
                                  tf.cast(resized_size, tf.int32),
                                  method=tf.image.ResizeMethod.BILINEAR)
        padded = tf.image.pad_to_bounding_box(resized, 0, 0, *self.image_size)
        image_info = tf.stack([original, output_size, resized_size / original,
                               tf.zeros(2)])
        return padded, image_info

    def preprocess(self, image):
        """One [H, W, 3] pixel image -> (model input, image_info)."""
        return self.resize_and_pad(self.normalize(image))

    def call(self, images):
        return tf.map_fn(
            self.preprocess, images,
            fn_output_signature=(tf.TensorSpec(self.image_size + (3,), tf.float32),
                                 tf.TensorSpec([4, 2], tf.float32)))

    def get_config(self):
        config = super().get_config()
        config.update(image_size=list(self.image_size), mean=list(self.mean),
                      stddev=list(self.stddev))
        return config
