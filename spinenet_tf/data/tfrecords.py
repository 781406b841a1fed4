"""TFRecords in tf-models-official's COCO tf.Example schema: write and read.

    spinenet-coco-to-tfrecord --annotations ann.json \\
        --image_dir images/ --output_prefix out/train --num_shards 8

The schema is the one `official/vision/data/create_coco_tf_record.py`
writes and Model Garden's `TfExampleDecoder` reads: `image/encoded`,
`image/format`, `image/filename`, `image/source_id`, `image/key/sha256`,
`image/height`, `image/width`, `image/object/bbox/{xmin,ymin,xmax,ymax}`
(normalised to [0, 1]), `image/object/class/label`,
`image/object/class/text`, `image/object/is_crowd`, `image/object/area`,
and for instance segmentation `image/object/mask`: each instance's
full-image binary mask as PNG bytes (`--include_masks`).
Users' existing Model Garden TFRecords therefore read unchanged.
"""

import hashlib
import os

from spinenet_tf.data.instance_masks import decode_segmentation, encode_png_mask
from spinenet_tf.utils.progress import ProgressBar

FEATURES = None  # built lazily: importing TensorFlow is slow


def _features():
    import tensorflow as tf

    global FEATURES
    if FEATURES is None:
        FEATURES = {
            "image/encoded": tf.io.FixedLenFeature((), tf.string),
            "image/source_id": tf.io.FixedLenFeature((), tf.string, ""),
            "image/filename": tf.io.FixedLenFeature((), tf.string, ""),
            "image/height": tf.io.FixedLenFeature((), tf.int64, -1),
            "image/width": tf.io.FixedLenFeature((), tf.int64, -1),
            "image/object/bbox/xmin": tf.io.VarLenFeature(tf.float32),
            "image/object/bbox/xmax": tf.io.VarLenFeature(tf.float32),
            "image/object/bbox/ymin": tf.io.VarLenFeature(tf.float32),
            "image/object/bbox/ymax": tf.io.VarLenFeature(tf.float32),
            "image/object/class/label": tf.io.VarLenFeature(tf.int64),
            "image/object/is_crowd": tf.io.VarLenFeature(tf.int64),
        }
    return FEATURES


def _bytes(values):
    import tensorflow as tf
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def _floats(values):
    import tensorflow as tf
    return tf.train.Feature(float_list=tf.train.FloatList(value=values))


def _ints(values):
    import tensorflow as tf
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def record_to_example(record, encoded, category_names):
    """A tf.train.Example of one `coco.ImageRecord` and its encoded bytes
    (with `image/object/mask` where the record has segmentations)."""
    import tensorflow as tf

    height, width = float(record.height), float(record.width)
    boxes = record.boxes
    file_name = os.path.basename(record.path)
    image_format = os.path.splitext(file_name)[1].lstrip(".").lower() or "png"
    feature = {
        "image/height": _ints([record.height]),
        "image/width": _ints([record.width]),
        "image/filename": _bytes([file_name.encode()]),
        "image/source_id": _bytes([str(record.image_id).encode()]),
        "image/key/sha256": _bytes([hashlib.sha256(encoded).hexdigest().encode()]),
        "image/encoded": _bytes([encoded]),
        "image/format": _bytes([image_format.encode()]),
        "image/object/bbox/xmin": _floats(list(boxes[:, 1] / width)),
        "image/object/bbox/xmax": _floats(list(boxes[:, 3] / width)),
        "image/object/bbox/ymin": _floats(list(boxes[:, 0] / height)),
        "image/object/bbox/ymax": _floats(list(boxes[:, 2] / height)),
        "image/object/class/text": _bytes(
            [category_names[int(c)].encode() for c in record.classes]),
        "image/object/class/label": _ints([int(c) for c in record.classes]),
        "image/object/is_crowd": _ints([int(c) for c in record.is_crowd]),
        "image/object/area": _floats(
            list((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))),
    }
    if record.segmentations is not None:
        feature["image/object/mask"] = _bytes([
            encode_png_mask(decode_segmentation(g, record.height, record.width))
            for g in record.segmentations])
    return tf.train.Example(features=tf.train.Features(feature=feature))


def write_tfrecords(dataset, output_prefix, num_shards=1):
    """Writes a `coco.CocoDataset` as `{prefix}-{i:05d}-of-{n:05d}.tfrecord`.

    Images are stored as their original file bytes. Returns the shard paths.
    An image that cannot be read is an error naming it.
    """
    import tensorflow as tf
    if num_shards < 1:
        raise ValueError(f"`num_shards` must be >= 1; received {num_shards}.")
    os.makedirs(os.path.dirname(os.path.abspath(output_prefix)), exist_ok=True)
    paths = [f"{output_prefix}-{i:05d}-of-{num_shards:05d}.tfrecord"
             for i in range(num_shards)]
    names = {c["id"]: c["name"] for c in dataset.categories}
    writers = [tf.io.TFRecordWriter(p) for p in paths]
    progress = ProgressBar(len(dataset.records), "writing TFRecords")
    try:
        for index, record in enumerate(dataset.records):
            try:
                with open(record.path, "rb") as f:
                    encoded = f.read()
            except OSError as error:
                raise OSError(
                    f"Image id {record.image_id}: cannot read {record.path}: {error}") from error
            example = record_to_example(record, encoded, names)
            writers[index % num_shards].write(example.SerializeToString())
            progress.add(1)
    finally:
        for writer in writers:
            writer.close()
    return paths


def parse_example(serialized, with_masks=False):
    """tf.Example (TFM schema) -> dict of encoded image, id, pixel boxes...;
    `with_masks`: also `segmentations` (each instance's PNG mask) and
    `annotated_size` (the image's height and width), one mask an instance
    required."""
    import tensorflow as tf

    features = dict(_features())
    if with_masks:
        features["image/object/mask"] = tf.io.VarLenFeature(tf.string)
    parsed = tf.io.parse_single_example(serialized, features)
    dense = {k: tf.sparse.to_dense(v) if isinstance(v, tf.SparseTensor) else v
             for k, v in parsed.items()}
    height = tf.cast(dense["image/height"], tf.float32)
    width = tf.cast(dense["image/width"], tf.float32)
    boxes = tf.stack([dense["image/object/bbox/ymin"] * height,
                      dense["image/object/bbox/xmin"] * width,
                      dense["image/object/bbox/ymax"] * height,
                      dense["image/object/bbox/xmax"] * width], axis=-1)
    num_boxes = tf.shape(boxes)[0]
    crowd = dense["image/object/is_crowd"]
    crowd = tf.cond(tf.size(crowd) > 0, lambda: crowd,
                    lambda: tf.zeros([num_boxes], tf.int64))
    name = tf.where(dense["image/filename"] != "", dense["image/filename"],
                    dense["image/source_id"])
    example = {
        "source": dense["image/encoded"],
        "name": name,
        "image_id": tf.strings.to_number(dense["image/source_id"], tf.int64),
        "boxes": boxes,
        "classes": tf.cast(dense["image/object/class/label"], tf.int32),
        "is_crowd": tf.cast(crowd, tf.bool),
    }
    if with_masks:
        masks = dense["image/object/mask"]
        counted = tf.debugging.assert_equal(
            tf.size(masks), num_boxes, message=tf.strings.format(
                "TFRecord image {}: instance masks (image/object/mask) must be one per "
                "box", name))
        with tf.control_dependencies([counted]):
            example["segmentations"] = tf.identity(masks)
        example["annotated_size"] = tf.cast(tf.stack([dense["image/height"],
                                                      dense["image/width"]]), tf.int32)
    return example
