"""COCO loading, TFRecords, synthetic data and the detection input pipeline,
including every kind of bad data."""

import io
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from spinenet_tf.data import synthetic
from spinenet_tf.data.coco import CocoFormatError, load_coco
from spinenet_tf.data.detection_input import (
    DetectionInput,
    examples_from_coco,
    examples_from_tfrecords,
)
from spinenet_tf.data.tfrecords import write_tfrecords
from spinenet_tf.layers import ImagePreprocessor


def write_png(path, array):
    tf.io.write_file(str(path), tf.io.encode_png(array))


def make_dataset(tmp_path, images, annotations, categories=None):
    """Writes a COCO json; `images` maps file name -> array or raw bytes."""
    image_dir = tmp_path / "images"
    image_dir.mkdir(exist_ok=True)
    entries = []
    for index, (name, content) in enumerate(images.items(), start=1):
        if isinstance(content, bytes):
            (image_dir / name).write_bytes(content)
            height = width = 64
        elif content is None:  # missing file
            height = width = 64
        else:
            write_png(image_dir / name, content)
            height, width = content.shape[:2]
        entries.append({"id": index, "file_name": name, "height": height, "width": width})
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps({
        "images": entries, "annotations": annotations,
        "categories": categories or [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}))
    return str(path), str(image_dir)


def annotation(id_, image_id, bbox, category=1, crowd=0):
    return {"id": id_, "image_id": image_id, "category_id": category, "bbox": bbox,
            "iscrowd": crowd, "area": bbox[2] * bbox[3]}


def rgb(seed=0, size=64):
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3)).astype("uint8")


def test_boxes_are_converted_clipped_and_dropped(tmp_path):
    path, image_dir = make_dataset(tmp_path, {"a.png": rgb()}, [
        annotation(1, 1, [10, 20, 30, 5]),       # x, y, w, h -> y 20..25, x 10..40
        annotation(2, 1, [50, 50, 30, 30]),      # beyond the 64 x 64 image: clipped
        annotation(3, 1, [5, 5, 0, 10]),         # zero width: dropped
        annotation(4, 1, [5, 5, 10, -1]),        # negative height: dropped
        annotation(5, 1, [1, 1, 4, 4], crowd=1)])
    dataset = load_coco(path, image_dir)
    record = dataset.records[0]
    np.testing.assert_allclose(record.boxes[0], [20, 10, 25, 40])
    np.testing.assert_allclose(record.boxes[1], [50, 50, 64, 64])
    assert dataset.report == {"images": 1, "boxes": 3, "dropped_empty_boxes": 2,
                              "clipped_boxes": 1, "crowd_boxes": 1}
    assert dataset.num_classes == 3


@pytest.mark.parametrize("change,message", [
    (lambda d: d["annotations"].append(annotation(9, 1, [1, 1, 2, 2], category=7)),
     r"annotation id 9 \(image id 1\): category_id 7 is not in `categories`"),
    (lambda d: d["annotations"].append(annotation(9, 42, [1, 1, 2, 2])),
     r"annotation id 9 \(image id 42\): image_id is not in `images`"),
    (lambda d: d["images"][0].update(file_name="../outside.png"),
     r"Image id 1: `file_name` '../outside.png' escapes the image folder"),
    (lambda d: d["images"][0].update(file_name="/etc/passwd"),
     r"Image id 1: `file_name` '/etc/passwd' is an absolute path"),
    (lambda d: d.pop("categories"), "needs lists `images`, `annotations` and `categories`"),
    (lambda d: d["annotations"].append({"id": 3, "image_id": 1}), r"annotation #0 \(id 3\) lacks `category_id`"),
    # Non-finite numbers, which Python's json reads (NaN, Infinity, 1e999).
    (lambda d: d["annotations"].append(annotation(9, 1, [1, 1, float("nan"), 2])),
     r"annotation #0 \(id 9\) has a non-finite number at `bbox\[2\]` \(nan\)"),
    (lambda d: d["annotations"].append(dict(annotation(9, 1, [1, 1, 2, 2]),
                                            area=float("-inf"))),
     r"annotation #0 \(id 9\) has a non-finite number at `area` \(-inf\)"),
    (lambda d: d["images"][0].update(height=float("inf")),
     r"image #0 \(id 1\) has a non-finite number at `height` \(inf\)"),
    (lambda d: d["categories"].append({"id": 3, "name": "c", "extra": {"w": [float("nan")]}}),
     r"category #2 \(id 3\) has a non-finite number at `extra.w\[0\]`"),
])
def test_invalid_annotations_are_errors_that_name_the_culprit(tmp_path, change, message):
    path, image_dir = make_dataset(tmp_path, {"a.png": rgb()}, [])
    data = json.loads(open(path).read())
    change(data)
    open(path, "w").write(json.dumps(data))
    with pytest.raises(CocoFormatError, match=message):
        load_coco(path, image_dir)


def test_malformed_json_is_an_error(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"images": [')
    with pytest.raises(CocoFormatError, match="broken.json is not valid JSON"):
        load_coco(str(path), str(tmp_path))


def encoded(image_array, fmt, mode=None):
    from PIL import Image

    image = Image.fromarray(image_array)
    if mode:
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def odd_images():
    """Image files that must all decode to 8-bit RGB, and bad ones."""
    base = rgb(1)
    sixteen = tf.io.encode_png((base.astype("uint16") * 257)).numpy()
    return {
        "rgb.png": base,
        "gray.png": encoded(base, "PNG", "L"),
        "rgba.png": encoded(base, "PNG", "RGBA"),
        "palette.png": encoded(base, "PNG", "P"),
        "sixteen.png": sixteen,
        "photo.jpg": encoded(base, "JPEG"),
        "truncated.png": encoded(base, "PNG")[:200],
        "garbage.jpg": b"not an image at all",
        "missing.png": None,
    }


def test_bad_images_are_skipped_and_named_odd_ones_converted(tmp_path):
    images = odd_images()
    annotations = [annotation(i, i, [8, 8, 16, 16]) for i in range(1, len(images) + 1)]
    path, image_dir = make_dataset(tmp_path, images, annotations)
    dataset = load_coco(path, image_dir)
    parser = DetectionInput(ImagePreprocessor((64, 64)), training=False, max_boxes=4)
    batches = list(parser(examples_from_coco(dataset), batch_size=len(images)))
    images_out, targets, weights = batches[0]
    names = [os.path.basename(r.path) for r in dataset.records]
    bad = {"truncated.png", "garbage.jpg", "missing.png"}
    for name, weight, classes in zip(names, weights.numpy(), targets["classes"].numpy()):
        assert weight == (0.0 if name in bad else 1.0), name
        assert (classes[0] == 1) == (name not in bad)  # bad images carry no boxes
    assert sorted(os.path.basename(n) for n, _ in parser.log.failures) == sorted(bad)
    good = [i for i, n in enumerate(names) if n not in bad]
    reference = images_out.numpy()[names.index("rgb.png")]
    for i in good:  # every good variant decodes to 8-bit RGB of the same picture
        assert images_out.shape[-1] == 3
        if names[i] in ("sixteen.png", "rgba.png"):
            np.testing.assert_allclose(images_out.numpy()[i], reference, atol=1e-5)


def test_strict_mode_fails_at_once_naming_the_file(tmp_path):
    path, image_dir = make_dataset(tmp_path, {"ok.png": rgb(), "bad.png": b"xx"}, [])
    parser = DetectionInput(ImagePreprocessor((64, 64)), training=False, strict=True)
    with pytest.raises(tf.errors.OpError, match="Cannot decode image .*bad.png"):
        list(parser(examples_from_coco(load_coco(path, image_dir)), batch_size=2))


@pytest.mark.reference
def test_tfrecords_round_trip_in_the_reference_schema(tmp_path):
    path, image_dir = make_dataset(tmp_path, {"a.png": rgb(0), "b.png": rgb(1)}, [
        annotation(1, 1, [10, 20, 30, 5]), annotation(2, 2, [1, 2, 3, 4], 2, crowd=1)])
    dataset = load_coco(path, image_dir)
    shards = write_tfrecords(dataset, str(tmp_path / "records" / "train"), num_shards=2)
    assert [os.path.basename(s) for s in shards] == [
        "train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord"]
    # Model Garden's own decoder reads our records.
    decoder = pytest.importorskip("official.vision.dataloaders.tf_example_decoder")
    record = next(iter(tf.data.TFRecordDataset(shards[0])))
    decoded = decoder.TfExampleDecoder().decode(record)
    np.testing.assert_allclose(decoded["groundtruth_boxes"], [[20 / 64, 10 / 64, 25 / 64, 40 / 64]])
    assert decoded["source_id"] == b"1"
    # And ours gives the same training input as reading the COCO folder.
    parser = DetectionInput(ImagePreprocessor((64, 64)), training=False)
    from_folder = next(iter(parser(examples_from_coco(dataset), 2)))
    parser_tf = DetectionInput(ImagePreprocessor((64, 64)), training=False, sources_are_paths=False)
    from_records = next(iter(parser_tf(examples_from_tfrecords(str(tmp_path / "records" / "*")), 2)))
    order = np.argsort(from_records[1]["image_id"].numpy())
    np.testing.assert_allclose(from_records[0].numpy()[order], from_folder[0].numpy())
    np.testing.assert_allclose(from_records[1]["boxes"].numpy()[order],
                               from_folder[1]["boxes"].numpy(), atol=1e-4)
    assert from_records[1]["is_crowd"].numpy()[order][1, 0]


def test_training_stream_is_a_function_of_seed_and_step(tmp_path):
    paths = synthetic.generate(str(tmp_path / "synthetic"), num_train=12, num_val=0,
                               image_size=64, seed=3)
    dataset = load_coco(paths["train"], str(tmp_path / "synthetic" / "train" / "images"))
    parser = DetectionInput(ImagePreprocessor((64, 64)), training=True, max_boxes=6, aug_scale_min=0.5,
                            aug_scale_max=2.0, seed=5, shuffle_buffer=12)
    examples = examples_from_coco(dataset)
    full = [b for _, b in zip(range(6), parser(examples, 4))]
    resumed = [b for _, b in zip(range(3), parser(examples, 4, initial_step=3))]
    for a, b in zip(full[3:], resumed):
        np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
        np.testing.assert_array_equal(a[1]["boxes"].numpy(), b[1]["boxes"].numpy())
    # Augmented boxes stay inside the image and keep positive extent.
    for images, targets, _ in full:
        boxes, classes = targets["boxes"].numpy(), targets["classes"].numpy()
        valid = boxes[classes >= 0]
        assert valid.min() >= 0 and valid.max() <= 64
        assert np.all(valid[:, 2] > valid[:, 0]) and np.all(valid[:, 3] > valid[:, 1])


def test_synthetic_data_is_deterministic_and_honest(tmp_path):
    a = synthetic.generate(str(tmp_path / "a"), num_train=6, num_val=2, image_size=96, seed=1)
    b = synthetic.generate(str(tmp_path / "b"), num_train=6, num_val=2, image_size=96, seed=1)
    assert open(a["train"]).read() == open(b["train"]).read()
    first = tf.io.read_file(str(tmp_path / "a" / "train" / "images" / "000001.png"))
    second = tf.io.read_file(str(tmp_path / "b" / "train" / "images" / "000001.png"))
    assert first.numpy() == second.numpy()
    dataset = load_coco(a["train"], str(tmp_path / "a" / "train" / "images"))
    assert dataset.report["boxes"] > 6 and dataset.report["dropped_empty_boxes"] == 0
    assert {c["name"] for c in dataset.categories} == {"circle", "square", "triangle"}


def test_every_iterator_of_the_training_stream_sees_the_same_stream(tmp_path):
    # Keras' fit opens one iterator to build the model and another to
    # train; a reshuffle shared between iterators made their orders differ.
    import tensorflow as tf

    from spinenet_tf.data.training_stream import endless_shuffled

    stream = endless_shuffled(tf.data.Dataset.range(5), buffer_size=5, seed=1, skip=3)
    first = iter(stream)
    head = [next(first) for _ in range(12)]
    second = [tuple(x) for x in stream.take(12).as_numpy_iterator()]
    assert [(int(i), int(x)) for i, x in head] == second
    assert [i for i, _ in second] == list(range(3, 15))
    # Every epoch holds every element, in a different order.
    epochs = [sorted(x for _, x in endless_shuffled(
        tf.data.Dataset.range(5), 1, seed=1).skip(5 * e).take(5).as_numpy_iterator())
        for e in range(3)]
    assert epochs == [list(range(5))] * 3
    orders = [list(endless_shuffled(tf.data.Dataset.range(50), 50, seed=2).skip(
        50 * e).take(10).as_numpy_iterator()) for e in range(2)]
    assert orders[0] != orders[1]
    with pytest.raises(ValueError, match="received 0"):
        endless_shuffled(tf.data.Dataset.range(5), 0, seed=1)
