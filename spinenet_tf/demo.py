"""The README's main command (until training lands): backbones at a glance.

    python -m spinenet_tf.demo [--output_dir outputs/demo] [--skip_table]

1. Builds every variant at its paper input size and prints parameters and
   multiply-adds beside the tf-models-official 2.20 counts (as
   `python -m spinenet_tf.summary --all`).
2. Draws a deterministic test image (no download), runs one forward pass of
   SpineNet-49 at 640x640 and prints the P3..P7 feature shapes and the time.
3. Writes the image, a picture of the mean activation of every level, and a
   JSON summary to `--output_dir`, and prints where they are.
"""

import json
import os
import time

import numpy as np
from absl import app, flags

from spinenet_tf.backbones.variants import VARIANTS
from spinenet_tf.summary import format_table, summarize

OUTPUT_DIR = flags.DEFINE_string("output_dir", "outputs/demo", "Where results go.")
SKIP_TABLE = flags.DEFINE_boolean(
    "skip_table", False, "Skip building every variant (about a minute).")
IMAGE_SIZE = 640

# ImageNet mean / std in 0..255, as the reference normalises inputs.
MEAN_RGB = np.array([0.485, 0.456, 0.406]) * 255
STDDEV_RGB = np.array([0.229, 0.224, 0.225]) * 255


def draw_test_image(size=IMAGE_SIZE, seed=0):
    """A uint8 RGB image with a gradient background and coloured shapes."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:size, 0:size] / size
    image = np.stack([90 + 80 * ys, 110 + 60 * xs, 140 - 50 * ys], -1)
    for _ in range(12):
        color = rng.integers(0, 256, 3)
        cy, cx = rng.uniform(0.1, 0.9, 2) * size
        radius = rng.uniform(0.03, 0.2) * size
        if rng.random() < 0.5:
            mask = (ys * size - cy) ** 2 + (xs * size - cx) ** 2 < radius**2
        else:
            mask = (abs(ys * size - cy) < radius) & (abs(xs * size - cx) < radius)
        image[mask] = color
    return image.clip(0, 255).astype(np.uint8)


def activation_picture(features, size=256):
    """Side-by-side maps of each level's mean activation, nearest-upsampled."""
    tiles = []
    for key in sorted(features, key=lambda k: int(k[1:])):
        fmap = np.asarray(features[key])[0].mean(-1)
        fmap = (fmap - fmap.min()) / (np.ptp(fmap) + 1e-6)
        rows = np.arange(size) * fmap.shape[0] // size
        cols = np.arange(size) * fmap.shape[1] // size
        tile = fmap[rows][:, cols]
        tiles.append(np.pad(tile, 4, constant_values=1.0))
    gray = (np.concatenate(tiles, axis=1) * 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1)


def write_png(path, image):
    import tensorflow as tf

    tf.io.write_file(path, tf.io.encode_png(image))


def main(argv):
    del argv
    out_dir = OUTPUT_DIR.value
    os.makedirs(out_dir, exist_ok=True)
    rows = []
    if not SKIP_TABLE.value:
        print(f"Building {len(VARIANTS)} variants at their paper input sizes...")
        rows = [summarize(name) for name in VARIANTS]
        print(format_table(rows))

    from spinenet_tf import SpineNet

    image = draw_test_image()
    model = SpineNet("49", input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3))
    inputs = ((image - MEAN_RGB) / STDDEV_RGB).astype("float32")[None]
    model.predict_on_batch(inputs)  # warm-up: traces the compiled function
    start = time.perf_counter()
    features = model.predict_on_batch(inputs)
    seconds = time.perf_counter() - start
    print(f"\nSpineNet-49 forward pass on a {IMAGE_SIZE}x{IMAGE_SIZE} image "
          f"(random weights): {seconds * 1000:.0f} ms")
    for key, value in features.items():
        print(f"  {key}: {tuple(value.shape)}")

    image_path = os.path.join(out_dir, "input.png")
    picture_path = os.path.join(out_dir, "features.png")
    summary_path = os.path.join(out_dir, "summary.json")
    write_png(image_path, image)
    write_png(picture_path, activation_picture(features))
    with open(summary_path, "w") as f:
        json.dump({
            "variants": rows,
            "forward_pass": {
                "model": "spinenet-49", "image_size": IMAGE_SIZE,
                "seconds": seconds,
                "outputs": {k: list(v.shape) for k, v in features.items()},
            },
        }, f, indent=2)
    print(f"\nResults in {os.path.abspath(out_dir)}:")
    for path in (summary_path, image_path, picture_path):
        print(f"  {path}")


if __name__ == "__main__":
    app.run(main)
