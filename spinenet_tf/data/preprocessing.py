"""Image preprocessing of the RetinaNet recipe: normalise, resize, pad.

Same arithmetic as tf-models-official's `preprocess_ops.normalize_image` and
`resize_and_crop_image` at scale 1 (evaluation / serving): ImageNet mean and
standard deviation, long side resized so the image fits the output size with
its aspect ratio kept, zero padding at the bottom and right.
"""

import tensorflow as tf

MEAN_RGB = (0.485, 0.456, 0.406)
STDDEV_RGB = (0.229, 0.224, 0.225)


def normalize_image(image):
    """uint8 [0, 255] (or float [0, 1]) RGB -> float32 zero mean, unit std."""
    image = tf.image.convert_image_dtype(image, tf.float32)
    return (image - tf.constant(MEAN_RGB)) / tf.constant(STDDEV_RGB)


def resize_and_pad(image, output_size):
    """Resizes `image` [H, W, C] to fit `output_size` (height, width), pads.

    Returns:
        (image [out_h, out_w, C], image_info) where image_info is the
        [4, 2] float tensor of the reference: original (h, w), output
        (h, w), scale (y, x) and offset (0, 0). Boxes in the original image
        map to the output by multiplying with the scale; the valid image
        region is original * scale.
    """
    output_size = tf.constant(output_size, tf.float32)
    original = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.reduce_min(output_size / original)
    resized_size = tf.round(original * scale)
    resized = tf.image.resize(image, tf.cast(resized_size, tf.int32),
                              method=tf.image.ResizeMethod.BILINEAR)
    height, width = int(output_size[0]), int(output_size[1])
    padded = tf.image.pad_to_bounding_box(resized, 0, 0, height, width)
    image_info = tf.stack([original, output_size, resized_size / original,
                           tf.zeros(2)])
    return padded, image_info


def preprocess_for_detection(image, output_size):
    """The serving-time path: normalise, then resize and pad."""
    return resize_and_pad(normalize_image(image), output_size)
