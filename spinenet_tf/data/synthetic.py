"""A deterministic COCO-format dataset of coloured shapes: the embedded demo data.

    spinenet-make-shapes --output_dir data/synthetic \\
        [--num_train 800] [--num_val 100] [--image_size 256] [--seed 0] [--min_side 12]
        [--shape_set basic|other]

Writes `{train,val}/images/*.png` and `{train,val}/annotations.json`
(COCO format, with each shape's exact visible mask as RLE). Every image has
a varied background (flat, gradient, stripes or noise) and 1-6 shapes of
three classes in random colours: circle, square, triangle (the "basic" set)
or ring, cross, diamond ("other": a second task with disjoint classes, what
the fine-tuning benchmark moves to), with sides from 12 px (`min_side`) to
70 % of the image so that the objects span RetinaNet's P3-P7 anchor scales. Shapes may
overlap; boxes are those of the visible pixels, and a shape less than 40 %
visible is erased (its pixels restored to the background), so every visible
shape has a box and every box an honest extent. The same seed always gives the same files.
"""

import json
import os

import numpy as np
import tensorflow as tf

from spinenet_tf.data.instance_masks import encode_mask

# The classes of each shape set, ids 1..3 in order.
SHAPE_SETS = {"basic": ("circle", "square", "triangle"), "other": ("ring", "cross", "diamond")}


def categories(shape_set="basic"):
    """The COCO categories of a shape set."""
    if shape_set not in SHAPE_SETS:
        raise ValueError(f"`shape_set` must be one of {list(SHAPE_SETS)}; received "
                         f"{shape_set!r}.")
    return [{"id": i + 1, "name": name, "supercategory": "shape"}
            for i, name in enumerate(SHAPE_SETS[shape_set])]


CATEGORIES = categories("basic")
MIN_SIDE = 12
MAX_SIDE_FRACTION = 0.7
MIN_VISIBLE = 0.4


def _background(rng, size):
    kind = rng.integers(4)
    base = rng.uniform(0, 255, 3)
    if kind == 0:  # flat
        image = base[None, None, :]
    elif kind == 1:  # linear gradient
        other = rng.uniform(0, 255, 3)
        t = np.linspace(0, 1, size)[:, None, None]
        ramp = base * (1 - t) + other * t
        image = ramp if rng.random() < 0.5 else ramp.transpose(1, 0, 2)
    elif kind == 2:  # stripes
        other = rng.uniform(0, 255, 3)
        period = rng.integers(6, 40)
        coords = np.arange(size)[:, None] + (np.arange(size)[None, :] if rng.random() < 0.5 else 0)
        image = np.where(((coords // period) % 2)[..., None] == 0, base, other)
    else:  # noise
        image = base + rng.normal(0, 40, (size, size, 3))
    # A writable full-size copy, whatever the kind broadcast from.
    return np.clip(np.broadcast_to(image, (size, size, 3)), 0, 255).astype("float32")


def _shape_mask(name, cy, cx, side, size):
    """The pixels of shape `name` of side `side` centred at (cy, cx)."""
    y, x = np.mgrid[:size, :size].astype("float32") + 0.5
    half = side / 2.0
    dy, dx = np.abs(y - cy), np.abs(x - cx)
    if name == "circle":
        return dy ** 2 + dx ** 2 <= half**2
    if name == "square":
        return (dy <= half) & (dx <= half)
    if name == "ring":  # a disc with a hole of half its radius
        radius = dy ** 2 + dx ** 2
        return (radius <= half**2) & (radius >= (half / 2) ** 2)
    if name == "cross":  # a plus sign, arms a third of the side wide
        return ((dy <= half) & (dx <= half / 3)) | ((dx <= half) & (dy <= half / 3))
    if name == "diamond":
        return dy + dx <= half
    # Upward isosceles triangle inside the side x side square.
    top, bottom = cy - half, cy + half
    within = (y >= top) & (y <= bottom)
    spread = (y - top) / max(side, 1e-6) * half
    return within & (dx <= spread)


def render_image(rng, size, max_objects=6, min_side=MIN_SIDE, shape_set="basic"):
    """One image (uint8 [size, size, 3]) and its annotations: each shape's
    visible box, area and exact visible mask (COCO RLE)."""
    names = SHAPE_SETS[shape_set]
    background = _background(rng, size)
    image = background.copy()
    owners = np.zeros((size, size), "int32")  # which shape owns each pixel
    shapes = []
    for index in range(1, rng.integers(1, max_objects + 1) + 1):
        category = int(rng.integers(1, len(names) + 1))
        side = float(np.exp(rng.uniform(np.log(min_side), np.log(MAX_SIDE_FRACTION * size))))
        cy, cx = rng.uniform(side / 2, size - side / 2, 2)
        mask = _shape_mask(names[category - 1], cy, cx, side, size)
        if not mask.any():
            continue
        colour = rng.uniform(0, 255, 3)
        # Keep the shape visible against the background under it.
        if np.abs(image[mask].mean(0) - colour).sum() < 120:
            colour = 255 - colour
        image[mask] = colour
        owners[mask] = index
        shapes.append((index, category, int(mask.sum())))
    annotations = []
    for index, category, area in shapes:
        visible = owners == index
        count = int(visible.sum())
        if count < MIN_VISIBLE * area or count == 0:
            image[visible] = background[visible]  # no unlabelled fragments
            continue
        ys, xs = np.nonzero(visible)
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        annotations.append({
            "category_id": category,
            "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
            "area": float(count),
            "iscrowd": 0,
            "segmentation": encode_mask(visible),
        })
    return image.round().astype("uint8"), annotations


def write_split(output_dir, split, count, image_size, seed, min_side=MIN_SIDE,
                shape_set="basic"):
    """Writes one split; returns the path of its annotation file."""
    rng = np.random.default_rng([seed, {"train": 0, "val": 1}.get(split, 2)])
    image_dir = os.path.join(output_dir, split, "images")
    os.makedirs(image_dir, exist_ok=True)
    images, annotations = [], []
    for image_id in range(1, count + 1):
        pixels, objects = render_image(rng, image_size, min_side=min_side,
                                       shape_set=shape_set)
        file_name = f"{image_id:06d}.png"
        tf.io.write_file(os.path.join(image_dir, file_name), tf.io.encode_png(pixels))
        images.append({"id": image_id, "file_name": file_name,
                       "height": image_size, "width": image_size})
        for obj in objects:
            annotations.append(dict(obj, id=len(annotations) + 1, image_id=image_id))
    path = os.path.join(output_dir, split, "annotations.json")
    with open(path, "w") as f:
        json.dump({"info": {"description": f"spinenet_tf synthetic shapes ({shape_set}), "
                                           f"seed {seed}"},
                   "images": images, "annotations": annotations,
                   "categories": categories(shape_set)}, f)
    return path


def generate(output_dir, num_train=800, num_val=100, image_size=256, seed=0,
             min_side=MIN_SIDE, shape_set="basic"):
    """Generates both splits; returns {"train": json path, "val": json path}.
    Shapes' sides range from `min_side` pixels to 70% of `image_size`;
    `shape_set` picks the classes ("basic" or "other")."""
    categories(shape_set)  # an unknown set is an error before anything is written
    if min_side < 4:
        raise ValueError(f"`min_side` must be >= 4 pixels; received {min_side}.")
    if image_size < 4 * min_side:
        raise ValueError(f"`image_size` must be >= 4 * min_side = {4 * min_side}; "
                         f"received {image_size}.")
    if num_train < 0 or num_val < 0:
        raise ValueError(f"Image counts must be >= 0; received {num_train}, {num_val}.")
    return {split: write_split(output_dir, split, count, image_size, seed, min_side,
                               shape_set)
            for split, count in (("train", num_train), ("val", num_val))}
