"""`tf.data` input for RetinaNet training and evaluation.

Examples (from `examples_from_coco` or `examples_from_tfrecords`) go through
decode -> random horizontal flip -> the model's geometry and normalisation
(its `ImagePreprocessor`: in training with scale jitter, a random resize in
[aug_scale_min, aug_scale_max] x the target size and a random window; in
evaluation the letterbox that serving and TFLite use too) -> boxes mapped
and clipped, emptied ones dropped, padded to `max_boxes` -> batch ->
prefetch, with autotuned parallel maps. Targets stay ground-truth boxes:
the model's label encoder turns them into anchor targets inside
`compute_loss`. Evaluation keeps `image_info` (the scale) to map detections
back to the original image.

The map functions are graph code with TensorFlow's own control flow
(`tf.cond`, `tf.where`), so autograph is told not to rewrite them: its
source transformation cost each training process about 2.4 CPU-seconds.

Every random choice is a stateless op seeded by (seed, element index), so
the stream is a pure function of the seed: with `initial_step` a resumed
run sees exactly the batches an uninterrupted run would.

Bad images never stop an epoch and are never silently used: an image that
cannot be read or decoded becomes an all-padding example with sample weight
0 (so the stream stays aligned), is logged with its file name and counted
in `DecodeLog`; with `strict=True` it is an error naming the file instead.
Grayscale, RGBA, palette and 16-bit images are converted to 8-bit RGB.
"""

import json
import threading

import numpy as np
import tensorflow as tf
from absl import logging

from spinenet_tf.data.instance_masks import decode_instance_mask
from spinenet_tf.data.tfrecords import parse_example
from spinenet_tf.data.training_stream import endless_shuffled


class DecodeLog:
    """Thread-safe record of the images that could not be used."""

    def __init__(self):
        self._lock = threading.Lock()
        self.failures = []

    def add(self, name, reason):
        with self._lock:
            self.failures.append((name, reason))
        logging.warning("Skipping image %s: %s", name, reason)

    @property
    def count(self):
        return len(self.failures)


def examples_from_coco(dataset):
    """A `coco.CocoDataset` as a tf.data.Dataset of example dicts."""
    records = dataset.records
    lengths = [len(r.classes) for r in records]

    def ragged(values, dtype, width=None):
        flat = np.concatenate([v for v in values]) if records else np.zeros((0,))
        flat = np.asarray(flat, dtype)
        if width:
            flat = flat.reshape(-1, width)
        return tf.RaggedTensor.from_row_lengths(flat, lengths)

    examples = {
        "source": [r.path for r in records],
        "name": [r.path for r in records],
        "image_id": np.asarray([r.image_id for r in records], "int64"),
        "boxes": ragged([r.boxes for r in records], "float32", 4),
        "classes": ragged([r.classes for r in records], "int32"),
        "is_crowd": ragged([r.is_crowd for r in records], bool),
    }
    if records and records[0].segmentations is not None:  # loaded with masks
        examples["segmentations"] = ragged(
            [np.asarray([json.dumps(g) for g in r.segmentations], object) for r in records],
            object)
        examples["annotated_size"] = np.asarray([[r.height, r.width] for r in records],
                                                "int32")
    return tf.data.Dataset.from_tensor_slices(examples)


def examples_from_tfrecords(file_pattern, with_masks=False):
    """TFRecords in tf-models-official's COCO schema as example dicts
    (`with_masks`: with each instance's PNG mask, `image/object/mask`)."""
    files = tf.io.gfile.glob(file_pattern)
    if not files:
        raise FileNotFoundError(f"No TFRecord files match {file_pattern!r}.")

    def parse(serialized):
        return parse_example(serialized, with_masks)

    return tf.data.TFRecordDataset(sorted(files)).map(
        tf.autograph.experimental.do_not_convert(parse), num_parallel_calls=tf.data.AUTOTUNE)


class DetectionInput:
    """Builds batched RetinaNet input from example dicts.

    Args:
        preprocessor: the model's `ImagePreprocessor` (input size and
            normalisation).
        training: augment and shuffle (else: evaluation layout).
        max_boxes: boxes per image after padding (extra boxes are dropped,
            counted in the log).
        aug_rand_hflip, aug_scale_min, aug_scale_max: augmentation, as the
            reference's parser (e.g. 0.1 and 2.0 for the SpineNet recipes).
        seed: base seed of shuffling and augmentation.
        strict: raise on an unreadable image instead of skipping it.
        sources_are_paths: the `source` field holds file paths (COCO folder)
            instead of encoded bytes (TFRecords).
        shuffle_buffer: examples in the shuffle buffer (training).
        mask_size: with instance masks (examples with `segmentations`, from
            `load_coco(..., with_masks=True)` or TFRecords with
            `image/object/mask`), each kept box's mask cropped to
            the box and resized to mask_size x mask_size (bilinear), as
            Model Garden's Mask R-CNN parser crops them (112); crowd boxes
            are dropped in training, as there. None: no masks.
    """

    def __init__(self, preprocessor, training, max_boxes=100, aug_rand_hflip=True,
                 aug_scale_min=1.0, aug_scale_max=1.0, seed=0, strict=False,
                 sources_are_paths=True, shuffle_buffer=1000, mask_size=None):
        if not 0 < aug_scale_min <= aug_scale_max:
            raise ValueError(
                "Need 0 < aug_scale_min <= aug_scale_max; received "
                f"{aug_scale_min}, {aug_scale_max}.")
        self.preprocessor = preprocessor
        self.image_size = preprocessor.image_size
        self.training = training
        self.max_boxes = int(max_boxes)
        self.aug_rand_hflip = aug_rand_hflip and training
        self.aug_scale_min = aug_scale_min if training else 1.0
        self.aug_scale_max = aug_scale_max if training else 1.0
        self.seed = int(seed)
        self.strict = strict
        self.sources_are_paths = sources_are_paths
        self.shuffle_buffer = shuffle_buffer
        self.mask_size = None if mask_size is None else int(mask_size)
        self.log = DecodeLog()

    # --- decoding ------------------------------------------------------

    def _decode_py(self, source, name):
        name = name.numpy().decode("utf-8", "replace")
        try:
            contents = (tf.io.read_file(source) if self.sources_are_paths else source)
            image = tf.io.decode_image(contents, channels=3, dtype=tf.uint8,
                                       expand_animations=False)
            if tf.reduce_min(tf.shape(image)[:2]) < 1:
                raise ValueError("empty image")
            return image, True
        except (tf.errors.OpError, ValueError) as error:
            reason = str(getattr(error, "message", error)).splitlines()[0]
            if self.strict:
                raise ValueError(f"Cannot decode image {name}: {reason}") from error
            self.log.add(name, reason)
            return tf.zeros((1, 1, 3), tf.uint8), False

    def decode(self, example):
        image, ok = tf.py_function(self._decode_py, [example["source"], example["name"]],
                                   [tf.uint8, tf.bool])
        image.set_shape([None, None, 3])
        ok.set_shape([])
        return image, ok

    def _masks_py(self, segmentations, size, keep, boxes, flip, name):
        height, width = (int(v) for v in size.numpy())
        where = f"image {name.numpy().decode(errors='replace')}"
        kept = [(i, g) for i, (g, k) in enumerate(zip(segmentations.numpy(), keep.numpy()))
                if k]
        if not kept:
            return tf.zeros((0, self.mask_size, self.mask_size), tf.float32)
        masks = np.stack([decode_instance_mask(g, height, width, f"{where}, instance {i}")
                          for i, g in kept])
        if flip.numpy():
            masks = masks[:, :, ::-1]
        # Eager, inside the py_function: the op needs no shapes in the graph.
        crops = tf.image.crop_and_resize(
            tf.constant(masks[..., None], tf.float32), boxes, tf.range(len(kept)),
            [self.mask_size, self.mask_size])
        return crops[..., 0]

    def instance_masks(self, example, keep, boxes, image_info, image_size, flip):
        """The kept annotations' masks (flipped with the image) cropped to
        their boxes (`boxes`, in the model input) and resized to mask_size x
        mask_size: [K, mask_size, mask_size] float32."""
        scale, offset = tf.tile(image_info[2], [2]), tf.tile(image_info[3], [2])
        original = (boxes + offset) / scale / tf.tile(image_size, [2])  # normalised
        masks = tf.py_function(self._masks_py, [
            example["segmentations"], example["annotated_size"], keep, original, flip,
            example["name"]],
            tf.float32)
        return tf.ensure_shape(masks, [None, self.mask_size, self.mask_size])

    # --- geometry ------------------------------------------------------

    def _geometry(self, image, boxes, seed):
        """The model's geometry (`ImagePreprocessor.training_geometry`, with
        the scale jitter in training) applied to the image and its boxes."""
        pixels, image_info = self.preprocessor.training_geometry(
            image, seed, (self.aug_scale_min, self.aug_scale_max))
        scale, offset = image_info[2], image_info[3]
        boxes = boxes * tf.tile(scale, [2]) - tf.tile(offset, [2])
        visible = tf.minimum(image_info[0] * scale - offset, image_info[1])
        boxes = tf.clip_by_value(boxes, 0.0, tf.tile(visible, [2]))
        return self.preprocessor.normalize(pixels), boxes, image_info

    def _pad(self, values, fill):
        values = values[: self.max_boxes]
        pad = self.max_boxes - tf.shape(values)[0]
        paddings = [[0, pad]] + [[0, 0]] * (len(values.shape) - 1)
        padded = tf.pad(values, paddings, constant_values=fill)
        return tf.ensure_shape(padded, [self.max_boxes] + values.shape[1:].as_list())

    def parse(self, index, example):
        seed = tf.stack([tf.constant(self.seed, tf.int64), index])
        image, ok = self.decode(example)
        boxes = tf.reshape(tf.cast(example["boxes"], tf.float32), [-1, 4])
        classes = tf.cast(example["classes"], tf.int32)
        crowd = tf.cast(example["is_crowd"], tf.bool)
        image_size = tf.cast(tf.shape(image)[:2], tf.float32)
        flip = tf.constant(False)
        if self.aug_rand_hflip:
            flip = tf.random.stateless_uniform([], seed + [0, 2]) > 0.5
            width = image_size[1]
            image = tf.cond(flip, lambda: tf.image.flip_left_right(image), lambda: image)
            boxes = tf.cond(flip, lambda: tf.stack(
                [boxes[:, 0], width - boxes[:, 3], boxes[:, 2], width - boxes[:, 1]], -1),
                lambda: boxes)
        image, boxes, image_info = self._geometry(image, boxes, seed)
        keep = tf.logical_and(boxes[:, 2] > boxes[:, 0], boxes[:, 3] > boxes[:, 1])
        keep = tf.logical_and(keep, ok)
        if self.mask_size and self.training:
            keep = tf.logical_and(keep, tf.logical_not(crowd))
        boxes, classes, crowd = (tf.boolean_mask(v, keep) for v in (boxes, classes, crowd))
        targets = {
            "boxes": self._pad(boxes, 0.0),
            "classes": self._pad(classes, -1),
            # int32, not bool: Keras builds a model under MirroredStrategy by
            # mean-reducing one input batch across replicas, and there is
            # no bool sum.
            "is_crowd": tf.cast(self._pad(crowd, False), tf.int32),
        }
        if self.mask_size:
            masks = self.instance_masks(example, keep, boxes, image_info, image_size, flip)
            targets["masks"] = self._pad(masks, 0.0)
            targets["image_info"] = image_info
        weight = tf.cast(ok, tf.float32)
        if self.training:
            return image, targets, weight
        targets.update(image_info=image_info, image_id=example["image_id"])
        if self.mask_size:
            targets["annotated_size"] = example["annotated_size"]
        return image, targets, weight

    # --- the dataset ---------------------------------------------------

    def __call__(self, examples, batch_size, initial_step=0, input_context=None):
        """Batched (images, targets, sample_weight) dataset.

        Training streams repeat forever (use `steps_per_epoch`); evaluation
        goes once over the data. `initial_step` skips that many training
        batches (before decoding). `input_context` shards for
        `distribute_datasets_from_function`.
        """
        dataset = examples
        if input_context is not None and input_context.num_input_pipelines > 1:
            dataset = dataset.shard(input_context.num_input_pipelines,
                                    input_context.input_pipeline_id)
        if self.training:
            dataset = endless_shuffled(dataset, self.shuffle_buffer, self.seed,
                                       skip=initial_step * batch_size)
        else:
            dataset = dataset.enumerate()
        dataset = dataset.map(tf.autograph.experimental.do_not_convert(self.parse),
                              num_parallel_calls=tf.data.AUTOTUNE)
        dataset = dataset.batch(batch_size, drop_remainder=self.training)
        options = tf.data.Options()
        options.deterministic = True
        options.experimental_external_state_policy = (
            tf.data.experimental.ExternalStatePolicy.IGNORE)
        return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)
