"""COCO-format detection data (annotation JSON + image folder), validated.

Everything that can be checked without decoding images is checked when the
annotations are loaded, and problems are errors that name the annotation or
image: malformed JSON, missing keys, an annotation whose `category_id` is
not in `categories` or whose `image_id` is not in `images`, and a
`file_name` that escapes the image folder (`../`, absolute paths), and a
non-finite number anywhere (`NaN`, `Infinity`, or `1e999`, all of which
Python's json accepts). Boxes
with a non-positive width or height are dropped and boxes reaching beyond
the image are clipped; both are counted in `CocoDataset.report`.
"""

import collections
import dataclasses
import json
import math
import os

import numpy as np

from spinenet_tf.data.instance_masks import SegmentationError, check_segmentation


class CocoFormatError(ValueError):
    """The annotation file is not valid COCO detection data."""


@dataclasses.dataclass
class ImageRecord:
    """One image and its boxes, boxes as (ymin, xmin, ymax, xmax) pixels;
    with masks, each box's COCO `segmentation` (checked, not decoded)."""

    image_id: int
    path: str
    height: int
    width: int
    boxes: np.ndarray
    classes: np.ndarray
    is_crowd: np.ndarray
    segmentations: list = None


@dataclasses.dataclass
class CocoDataset:
    """A loaded annotation file: records plus what loading had to fix."""

    annotation_file: str
    image_dir: str
    records: list
    categories: list
    report: dict

    @property
    def num_images(self):
        return len(self.records)

    @property
    def num_classes(self):
        """Logits the detector needs: the largest category id + 1 (slot 0 is
        background), as tf-models-official sizes COCO's 91."""
        return max(c["id"] for c in self.categories) + 1


def _safe_path(image_dir, file_name, image_id):
    if not isinstance(file_name, str) or not file_name:
        raise CocoFormatError(f"Image id {image_id}: `file_name` {file_name!r} is not a name.")
    if os.path.isabs(file_name) or file_name.startswith(("/", "\\")):
        raise CocoFormatError(
            f"Image id {image_id}: `file_name` {file_name!r} is an absolute path; "
            "file names must be relative to the image folder.")
    root = os.path.realpath(image_dir)
    path = os.path.realpath(os.path.join(root, file_name))
    if os.path.commonpath([root, path]) != root:
        raise CocoFormatError(
            f"Image id {image_id}: `file_name` {file_name!r} escapes the image "
            f"folder {image_dir!r}.")
    return path


def _non_finite(value, path=""):
    """(key path, value) of the first NaN / infinite number in `value`, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return path, value
    if isinstance(value, dict):
        items = ((f".{key}", item) for key, item in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((f"[{i}]", item) for i, item in enumerate(value))
    else:
        return None
    for key, item in items:
        found = _non_finite(item, path + key)
        if found:
            return found
    return None


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


# The format's rules for every field this project reads: section -> {key:
# (required, test, what the value must be)}. JSON `true` is not a number,
# and "10" is not 10: COCO's numbers are JSON numbers.
_RULES = {
    "images": {
        "id": (True, _is_integer, "an integer"),
        "file_name": (True, lambda v: isinstance(v, str) and bool(v), "a non-empty string"),
        "height": (True, lambda v: _is_integer(v) and v > 0, "a positive integer"),
        "width": (True, lambda v: _is_integer(v) and v > 0, "a positive integer"),
    },
    "annotations": {
        "id": (True, _is_integer, "an integer"),
        "image_id": (True, _is_integer, "an integer"),
        "category_id": (True, _is_integer, "an integer"),
        "bbox": (True, lambda v: isinstance(v, list) and len(v) == 4
                 and all(_is_number(x) for x in v), "[x, y, width, height] (4 numbers)"),
        "iscrowd": (False, lambda v: v in (0, 1) and not isinstance(v, float), "0 or 1"),
        "area": (False, _is_number, "a number"),
        "segmentation": (False, lambda v: isinstance(v, (list, dict)),
                         "a polygon list or an RLE object"),
    },
    "categories": {
        "id": (True, lambda v: _is_integer(v) and v >= 1,
               "an integer >= 1 (0 is the background)"),
        "name": (True, lambda v: isinstance(v, str), "a string"),
    },
}
_ENTRY_NAMES = {"images": "image", "annotations": "annotation", "categories": "category"}


def _entry_name(section, index, entry):
    name = f"{_ENTRY_NAMES[section]} #{index}"
    if isinstance(entry, dict) and _is_integer(entry.get("id")):
        name += f" (id {entry['id']})"
    return name


def _check_section(data, section, annotation_file):
    """Every entry of `data[section]` is an object following `_RULES`, with
    no non-finite number and an id no other entry has."""
    seen = {}
    for index, entry in enumerate(data[section]):
        where = f"{annotation_file}: {_entry_name(section, index, entry)}"
        if not isinstance(entry, dict):
            raise CocoFormatError(f"{where} is {entry!r}, not an object.")
        found = _non_finite(entry)
        if found:
            raise CocoFormatError(
                f"{where} has a non-finite number at `{found[0].lstrip('.')}` "
                f"({found[1]}); COCO numbers must be finite.")
        for key, (required, test, expected) in _RULES[section].items():
            if key not in entry:
                if required:
                    raise CocoFormatError(f"{where} lacks `{key}`: {str(entry)[:200]}")
                continue
            if not test(entry[key]):
                raise CocoFormatError(
                    f"{where}: `{key}` is {entry[key]!r}; it must be {expected}.")
        if entry["id"] in seen:
            raise CocoFormatError(
                f"{where}: id {entry['id']} is already the id of "
                f"{_ENTRY_NAMES[section]} #{seen[entry['id']]}; ids must be unique "
                "(pycocotools keeps one of them and drops the other silently).")
        seen[entry["id"]] = index


def load_coco(annotation_file, image_dir, with_masks=False):
    """Loads and validates a COCO detection annotation file.

    With `with_masks`, every kept annotation needs a `segmentation`
    (polygons or RLE, checked against its image by
    `instance_masks.check_segmentation`), kept in the records.

    Returns:
        A `CocoDataset`; its `report` counts `images`, `boxes`,
        `dropped_empty_boxes`, `clipped_boxes` and `crowd_boxes`.
    """
    data = _read_annotation_file(annotation_file)
    images = {image["id"]: image for image in data["images"]}
    per_image = _annotations_by_image(data, images, annotation_file)
    report = collections.Counter(images=len(images))
    records = [_image_record(image, per_image.get(image_id, []), image_dir, with_masks,
                             report, annotation_file)
               for image_id, image in images.items()]
    for key in ("boxes", "dropped_empty_boxes", "clipped_boxes", "crowd_boxes"):
        report.setdefault(key, 0)
    return CocoDataset(annotation_file, image_dir, records, data["categories"], dict(report))


def _read_annotation_file(annotation_file):
    """The file's JSON, its three sections checked against the format."""
    try:
        with open(annotation_file) as f:
            data = json.load(f)
    except json.JSONDecodeError as error:
        raise CocoFormatError(
            f"{annotation_file} is not valid JSON: {error}") from error
    except UnicodeDecodeError as error:
        raise CocoFormatError(f"{annotation_file} is not UTF-8 text: {error}") from error
    if not isinstance(data, dict) or not all(
            isinstance(data.get(k), list) for k in ("images", "annotations", "categories")):
        raise CocoFormatError(
            f"{annotation_file} needs lists `images`, `annotations` and "
            f"`categories`; it has keys {sorted(data) if isinstance(data, dict) else type(data).__name__}.")
    for section in ("images", "categories"):
        if not data[section]:
            raise CocoFormatError(f"{annotation_file}: `{section}` is empty.")
    for section in ("images", "annotations", "categories"):
        _check_section(data, section, annotation_file)
    return data


def _annotations_by_image(data, images, annotation_file):
    """{image id: its annotations}; an annotation of an unknown category or
    image is an error naming it."""
    category_ids = {c["id"] for c in data["categories"]}
    per_image = collections.defaultdict(list)
    for annotation in data["annotations"]:
        where = (f"{annotation_file}: annotation id {annotation['id']} (image id "
                 f"{annotation['image_id']})")
        if annotation["category_id"] not in category_ids:
            raise CocoFormatError(
                f"{where}: category_id {annotation['category_id']} is not in "
                f"`categories` {sorted(category_ids)}.")
        if annotation["image_id"] not in images:
            raise CocoFormatError(f"{where}: image_id is not in `images`.")
        per_image[annotation["image_id"]].append(annotation)
    return per_image


def _image_record(image, annotations, image_dir, with_masks, report, annotation_file):
    """One image's `ImageRecord`: boxes clipped to the image (empty ones
    dropped), counted into `report`."""
    image_id = image["id"]
    height, width = image["height"], image["width"]
    boxes, classes, crowd, segmentations = [], [], [], []
    for annotation in annotations:
        x, y, w, h = (float(v) for v in annotation["bbox"])
        if w <= 0 or h <= 0:
            report["dropped_empty_boxes"] += 1
            continue
        box = [y, x, y + h, x + w]
        clipped = [min(max(box[0], 0.0), height), min(max(box[1], 0.0), width),
                   min(max(box[2], 0.0), height), min(max(box[3], 0.0), width)]
        if clipped != box:
            report["clipped_boxes"] += 1
        if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
            report["dropped_empty_boxes"] += 1  # entirely outside the image
            continue
        if with_masks:
            segmentations.append(_checked_segmentation(annotation, height, width,
                                                       annotation_file))
        boxes.append(clipped)
        classes.append(int(annotation["category_id"]))
        crowd.append(bool(annotation.get("iscrowd", 0)))
        report["boxes"] += 1
        report["crowd_boxes"] += int(crowd[-1])
    return ImageRecord(
        image_id=image_id, path=_safe_path(image_dir, image["file_name"], image_id),
        height=height, width=width, boxes=np.asarray(boxes, "float32").reshape(-1, 4),
        classes=np.asarray(classes, "int32"), is_crowd=np.asarray(crowd, bool),
        segmentations=segmentations if with_masks else None)


def _checked_segmentation(annotation, height, width, annotation_file):
    where = (f"{annotation_file}: annotation id {annotation['id']} (image id "
             f"{annotation['image_id']})")
    if "segmentation" not in annotation:
        raise CocoFormatError(f"{where} has no `segmentation`; instance masks need one "
                              "for every annotation.")
    try:
        check_segmentation(annotation["segmentation"], height, width, where)
    except SegmentationError as error:
        raise CocoFormatError(str(error)) from None
    return annotation["segmentation"]
