"""COCO segmentations (polygons, RLE) into instance masks, the checks that
name a malformed one, and the synthetic shapes' exact masks."""

import json

import numpy as np
import pytest

from spinenet_tf.data import synthetic
from spinenet_tf.data.coco import CocoFormatError, load_coco
from spinenet_tf.data.instance_masks import (
    SegmentationError,
    check_segmentation,
    decode_segmentation,
    encode_mask,
)


def write_coco(tmp_path, annotation):
    """A 16 x 16 image with one annotation: (annotation file, image folder)."""
    image_dir = tmp_path / "images"
    image_dir.mkdir(exist_ok=True)
    (image_dir / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # read only as a name here
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.png", "height": 16, "width": 16}],
        "annotations": [annotation], "categories": [{"id": 1, "name": "a"}]}))
    return str(path), str(image_dir)


def test_polygon_decodes_to_the_pixels_it_covers():
    # A 4 x 3 rectangle from (x 2, y 1) to (x 6, y 4): pycocotools fills the
    # pixels whose centres lie inside.
    mask = decode_segmentation([[2, 1, 6, 1, 6, 4, 2, 4]], 8, 10)
    expected = np.zeros((8, 10), np.uint8)
    expected[1:4, 2:6] = 1
    np.testing.assert_array_equal(mask, expected)


def test_rle_forms_decode_to_the_same_mask():
    mask = np.zeros((7, 5), np.uint8)
    mask[2:5, 1:4] = 1
    mask[6, 4] = 1
    compressed = encode_mask(mask)
    # Uncompressed RLE: column-major runs starting with zeros.
    runs, flat, value, count = [], mask.flatten(order="F"), 0, 0
    for pixel in flat:
        if pixel != value:
            runs.append(count)
            value, count = pixel, 0
        count += 1
    runs.append(count)
    uncompressed = {"size": [7, 5], "counts": runs}
    for segmentation in (compressed, uncompressed):
        check_segmentation(segmentation, 7, 5, "test")
        np.testing.assert_array_equal(decode_segmentation(segmentation, 7, 5), mask)
    assert json.loads(json.dumps(compressed)) == compressed


@pytest.mark.parametrize("segmentation,message", [
    ([[1, 2, 3, 4, 5]], "5 coordinates; it needs an even number"),
    ([[1, 2, 3, 4]], "4 coordinates; it needs an even number, at least 6"),
    ([], "empty polygon list"),
    ([[1, 2, "3", 4, 5, 6]], "polygon 0 .* must be a list of numbers"),
    ([[1, 2, 3, 4, 5, 6], 7], "polygon 1"),
    ({"size": [5, 7], "counts": [35]}, "RLE `size` is \\[5, 7\\], but the image is \\[7, 5\\]"),
    ({"size": [7, 5], "counts": [10, 20]}, "add up to 30 pixels; the image has 7 x 5 = 35"),
    ({"size": [7, 5], "counts": [10, -1, 26]}, "non-negative integers"),
    ("mask", "must be a polygon list or an RLE object"),
])
def test_malformed_segmentation_is_an_error_naming_the_annotation(segmentation, message):
    with pytest.raises(SegmentationError, match="annotation 9: .*" + message):
        check_segmentation(segmentation, 7, 5, "annotation 9")


def test_coco_reader_with_masks_checks_and_keeps_segmentations(tmp_path):
    good = {"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 1, 4, 3],
            "segmentation": [[2, 1, 6, 1, 6, 4, 2, 4]]}
    path, image_dir = write_coco(tmp_path, good)
    record = load_coco(path, image_dir, with_masks=True).records[0]
    assert record.segmentations == [good["segmentation"]]
    assert load_coco(path, image_dir).records[0].segmentations is None
    for broken, message in (
            ({**good, "segmentation": [[2, 1, 6, 1, 6]]}, "annotation id 1 .*5 coordinates"),
            ({**good, "segmentation": {"size": [8, 8], "counts": "abc"}},
             "annotation id 1 .*RLE `size` is \\[8, 8\\], but the image is \\[16, 16\\]"),
            ({**good, "segmentation": [[2, 1, float("nan"), 1, 6, 4]]},
             "non-finite number at `segmentation\\[0\\]\\[2\\]`"),
            ({k: v for k, v in good.items() if k != "segmentation"},
             "annotation id 1 .*has no `segmentation`")):
        path, image_dir = write_coco(tmp_path, broken)
        with pytest.raises(CocoFormatError, match=message):
            load_coco(path, image_dir, with_masks=True)


def test_synthetic_masks_are_the_visible_shapes(tmp_path):
    files = synthetic.generate(str(tmp_path), num_train=4, num_val=1, image_size=64, seed=3)
    dataset = load_coco(files["train"], str(tmp_path / "train" / "images"), with_masks=True)
    annotations = json.load(open(files["train"]))["annotations"]
    assert len(annotations) == dataset.report["boxes"] > 4
    for entry in annotations:
        mask = decode_segmentation(entry["segmentation"], 64, 64)
        assert mask.sum() == entry["area"]
        ys, xs = np.nonzero(mask)
        x, y, w, h = entry["bbox"]
        assert (xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()) == (
            x, y, w, h)
    # Masks of one image do not overlap: each pixel has one owner.
    first = [decode_segmentation(e["segmentation"], 64, 64) for e in annotations
             if e["image_id"] == 1]
    assert np.sum(first, axis=0).max() == 1


def _mask_batches(tmp_path, training, flip=False):
    from spinenet_tf.data.detection_input import DetectionInput, examples_from_coco
    from spinenet_tf.layers import ImagePreprocessor

    files = synthetic.generate(str(tmp_path), num_train=6, num_val=1, image_size=96, seed=2)
    dataset = load_coco(files["train"], str(tmp_path / "train" / "images"), with_masks=True)
    parser = DetectionInput(ImagePreprocessor((128, 128)), training, max_boxes=8,
                            aug_rand_hflip=flip, mask_size=56, seed=4)
    batches = parser(examples_from_coco(dataset).take(6), 6)
    _, targets, _ = next(iter(batches.take(1)))
    return dataset, {k: np.asarray(v) for k, v in targets.items()}


def test_pipeline_crops_each_mask_to_its_box(tmp_path):
    """Evaluation geometry: each padded box's mask crop covers the share of
    the box that the shape's visible pixels cover (area / box area), up to
    the half pixel at each edge that `crop_and_resize` samples between the
    box's border pixels and the outside (the reference's sampling)."""
    dataset, targets = _mask_batches(tmp_path, training=False)
    assert targets["masks"].shape == (6, 8, 56, 56)
    checked = 0
    for b, record in enumerate(dataset.records):
        annotations = [a for a in json.load(open(dataset.annotation_file))["annotations"]
                       if a["image_id"] == record.image_id]
        for i, entry in enumerate(annotations):
            share = entry["area"] / (entry["bbox"][2] * entry["bbox"][3])
            edge = 1.0 / min(entry["bbox"][2:])
            assert abs(targets["masks"][b, i].mean() - share) < 0.02 + edge, (entry, share)
            checked += 1
        assert (targets["masks"][b, len(annotations):] == 0).all()  # padding
    assert checked > 6


def test_flipped_masks_are_mirrored_crops(tmp_path):
    """Training with the random flip only: each image's crops are the
    evaluation crops or, where the image was flipped, their mirror images."""
    _, plain = _mask_batches(tmp_path / "a", training=False)
    _, flipped = _mask_batches(tmp_path / "b", training=True, flip=True)
    order = np.argsort(plain["image_id"])
    mirrored = 0
    for b in range(6):  # the training stream is shuffled: match images by boxes
        match = [p for p in order if np.allclose(
            np.sort(plain["boxes"][p][:, [0, 2]], 0), np.sort(flipped["boxes"][b][:, [0, 2]], 0))]
        assert match, "an image of the training batch is not among the evaluation images"
        p = match[0]
        same = np.allclose(plain["masks"][p], flipped["masks"][b], atol=1e-4)
        mirror = np.allclose(plain["masks"][p][..., ::-1], flipped["masks"][b], atol=1e-4)
        assert same or mirror
        mirrored += int(mirror and not same)
    assert 0 < mirrored < 6


@pytest.mark.reference
def test_tfrecord_masks_in_the_reference_schema_give_the_folders_crops(tmp_path):
    """`write_tfrecords` of a dataset loaded with masks stores each instance's
    mask as a PNG in `image/object/mask` (Model Garden's schema: its own
    decoder reads them back as the same masks), and reading the records
    gives the mask crops of reading the COCO folder. A record whose masks
    do not match its boxes is an error naming the image."""
    import tensorflow as tf

    from spinenet_tf.data.detection_input import (
        DetectionInput,
        examples_from_coco,
        examples_from_tfrecords,
    )
    from spinenet_tf.data.tfrecords import write_tfrecords
    from spinenet_tf.layers import ImagePreprocessor

    files = synthetic.generate(str(tmp_path), num_train=4, num_val=1, image_size=96, seed=2)
    dataset = load_coco(files["train"], str(tmp_path / "train" / "images"), with_masks=True)
    shards = write_tfrecords(dataset, str(tmp_path / "records" / "train"))
    record = next(iter(tf.data.TFRecordDataset(shards)))
    first = dataset.records[0]
    pytest.importorskip("official")
    from official.vision.dataloaders import tf_example_decoder

    decoded = tf_example_decoder.TfExampleDecoder(include_mask=True).decode(record)
    expected = np.stack([decode_segmentation(g, first.height, first.width)
                         for g in first.segmentations])
    np.testing.assert_array_equal(np.asarray(decoded["groundtruth_instance_masks"]), expected)

    def crops(examples, sources_are_paths):
        parser = DetectionInput(ImagePreprocessor((128, 128)), False, max_boxes=8,
                                mask_size=56, sources_are_paths=sources_are_paths)
        _, targets, _ = next(iter(parser(examples, 4)))
        order = np.argsort(np.asarray(targets["image_id"]))
        return np.asarray(targets["masks"])[order]

    from_folder = crops(examples_from_coco(dataset), True)
    from_records = crops(examples_from_tfrecords(shards[0], with_masks=True), False)
    assert from_folder.sum() > 100
    np.testing.assert_allclose(from_records, from_folder, atol=1e-6)

    example = tf.train.Example.FromString(record.numpy())
    del example.features.feature["image/object/mask"].bytes_list.value[-1]
    broken = tmp_path / "broken.tfrecord"
    with tf.io.TFRecordWriter(str(broken)) as writer:
        writer.write(example.SerializeToString())
    with pytest.raises(tf.errors.InvalidArgumentError, match="masks .* must be one per box"):
        list(examples_from_tfrecords(str(broken), with_masks=True))
