"""COCO instance segmentations (polygons, RLE) checked and decoded into
masks with pycocotools; Model Garden's TFRecord masks (PNG per instance)
encoded and decoded."""

import numbers

import numpy as np


class SegmentationError(ValueError):
    """An annotation's `segmentation` is not valid COCO."""


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_segmentation(segmentation, height, width, where):
    """Raises `SegmentationError` naming `where` (the annotation) unless
    `segmentation` is a COCO polygon list or RLE of a height x width image.

    Polygons: a non-empty list of lists, each of an even number (>= 6) of
    coordinates. RLE: {"size": [height, width], "counts": ...}, the counts
    a compressed string or non-negative integers adding up to
    height x width. (Non-finite numbers are refused with the whole entry by
    the COCO reader.)"""
    if isinstance(segmentation, list):
        if not segmentation:
            raise SegmentationError(f"{where}: `segmentation` is an empty polygon list.")
        for i, polygon in enumerate(segmentation):
            if not isinstance(polygon, list) or not all(_is_number(v) for v in polygon):
                raise SegmentationError(
                    f"{where}: polygon {i} of `segmentation` is {str(polygon)[:80]}; it must "
                    "be a list of numbers [x1, y1, x2, y2, ...].")
            if len(polygon) % 2 or len(polygon) < 6:
                raise SegmentationError(
                    f"{where}: polygon {i} of `segmentation` has {len(polygon)} coordinates; "
                    "it needs an even number, at least 6 (three x, y points).")
        return
    if not isinstance(segmentation, dict):
        raise SegmentationError(
            f"{where}: `segmentation` is {str(segmentation)[:80]}; it must be a polygon list "
            "or an RLE object {'size': [height, width], 'counts': ...}.")
    size, counts = segmentation.get("size"), segmentation.get("counts")
    if size != [height, width]:
        raise SegmentationError(
            f"{where}: the RLE `size` is {size!r}, but the image is [{height}, {width}] "
            "(height, width).")
    if isinstance(counts, str):
        return
    if not isinstance(counts, list) or not all(
            isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
        raise SegmentationError(
            f"{where}: the RLE `counts` is {str(counts)[:80]}; it must be a compressed string "
            "or a list of non-negative integers.")
    if sum(counts) != height * width:
        raise SegmentationError(
            f"{where}: the RLE `counts` add up to {sum(counts)} pixels; the image has "
            f"{height} x {width} = {height * width}.")


def decode_segmentation(segmentation, height, width):
    """The uint8 [height, width] mask of a checked COCO segmentation."""
    from pycocotools import mask as mask_utils

    if isinstance(segmentation, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation["counts"], list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = dict(segmentation, counts=segmentation["counts"].encode("ascii"))
    return np.asarray(mask_utils.decode(rle), np.uint8).reshape(height, width)


def encode_mask(mask):
    """A binary mask [height, width] as COCO's compressed RLE (JSON-ready)."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(np.asarray(mask, np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def encode_png_mask(mask):
    """A binary [h, w] mask as PNG bytes of 0 / 1 (Model Garden's TFRecord
    `image/object/mask` entries, as its `create_coco_tf_record.py` writes them)."""
    import tensorflow as tf

    return tf.io.encode_png(np.asarray(mask, np.uint8)[..., None]).numpy()


def decode_instance_mask(value, height, width, where):
    """uint8 [height, width] (1 inside) of one annotation's stored mask:
    PNG bytes (a TFRecord's `image/object/mask`; any non-zero pixel is
    inside) or a COCO segmentation as JSON (polygons or RLE). A PNG of
    another size is a `SegmentationError` naming `where`."""
    import json

    if bytes(value[:8]) == PNG_SIGNATURE:
        import tensorflow as tf

        mask = tf.io.decode_png(value, channels=1).numpy()[..., 0]
        if mask.shape != (height, width):
            raise SegmentationError(
                f"{where}: its PNG mask is {mask.shape[0]} x {mask.shape[1]}, the image "
                f"{height} x {width}.")
        return (mask > 0).astype(np.uint8)
    return decode_segmentation(json.loads(value), height, width)
