"""Mask R-CNN training step: spinenet_tf's against tf-models-official's.

    python benchmarks/maskrcnn_train_step.py [--runs 5] [--batch_size 2] [--json out.json] \
        [--profile "ours mixed_bfloat16,TFM mixed_bfloat16"]

Mask R-CNN on SpineNet-49 @640 (the `maskrcnn_spinenet_coco` recipe, 91
classes), same weights on both sides (`transfer_model_garden_two_stage_weights`),
the same images and ground truth (boxes, classes and 112 x 112 mask crops).
One training step each, timed in turn in one process, medians: forward in
training mode (proposals, ROI sampling, mask sampling), the five losses,
gradients and an SGD update (momentum 0.9).

* ours: `MaskRCNN.train_step` (Keras 3 `fit`'s step; the RPN targets are
  made inside it by `RPNLabeler`), float32 and `mixed_bfloat16`;
* tf-models-official: `MaskRCNNTask.train_step` on its twin, float32 and
  tf_keras' `mixed_bfloat16`. Its RPN targets come from its input pipeline
  (`RpnAnchorLabeler`), made once here, outside the timed step.

Prints the CPU flags (AVX-512 BF16, AMX) and ms / step with the ratio to
tf-models-official float32. Needs the `garden` extra.
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402
from latency_table import (  # noqa: E402
    POLICIES,
    REFERENCE,
    interleaved_medians,
    model_garden_twins,
    print_hardware,
    quiet,
)

from spinenet_tf import MaskRCNN  # noqa: E402
from spinenet_tf.rcnn.model_garden_twin import (  # noqa: E402
    build_model_garden_two_stage_detector,
    transfer_model_garden_two_stage_weights,
)

RUNS = flags.DEFINE_integer("runs", 5, "Timed steps per row.")
WARMUP = flags.DEFINE_integer("warmup", 1, "Untimed steps per row (tracing included).")
BATCH_SIZE = flags.DEFINE_integer("batch_size", 2, "Images per step.")
VARIANT = flags.DEFINE_string("variant", "spinenet-49", "Backbone variant.")
IMAGE_SIZE = flags.DEFINE_integer("image_size", 640, "Input side.")
BOXES = flags.DEFINE_integer("boxes", 8, "Ground-truth instances per image.")
JSON_OUT = flags.DEFINE_string("json", None, "Also write the results here.")
PROFILE = flags.DEFINE_list(
    "profile", [], "Rows to profile after timing (e.g. 'ours mixed_bfloat16,TFM "
    "mixed_bfloat16'): op types by self time (needs the `profile` extra, xprof).")
TOP = flags.DEFINE_integer("top", 12, "Op types to list per profiled row.")

MASK_CROP = 112


def ground_truth(batch, size, count, seed=0):
    """Images and instances: boxes of 32..256 px, classes 1..90, random
    blob masks cropped to their boxes."""
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(batch, size, size, 3)).astype("float32")
    sides = rng.uniform(32, 256, (batch, count, 2))
    corners = rng.uniform(0, 1, (batch, count, 2)) * (size - sides)
    boxes = np.concatenate([corners, corners + sides], -1).astype("float32")
    classes = rng.integers(1, 91, (batch, count)).astype("int32")
    grid = np.linspace(-1, 1, MASK_CROP)
    radius = np.hypot(*np.meshgrid(grid, grid))
    masks = (radius[None, None] < rng.uniform(0.5, 1.0, (batch, count, 1, 1))).astype("float32")
    return images, boxes, classes, masks


def model_garden_labels(reference, images, boxes, classes, masks):
    """The labels Model Garden's input pipeline makes for these images."""
    from official.vision.ops import anchor

    config = reference.get_config()
    size = images.shape[1:3]
    anchor_boxes = anchor.build_anchor_generator(
        min_level=config["min_level"], max_level=config["max_level"],
        num_scales=config["num_scales"], aspect_ratios=config["aspect_ratios"],
        anchor_size=config["anchor_size"])(image_size=size)
    labeler = anchor.RpnAnchorLabeler(0.7, 0.3, 256, 0.5)
    scores, codes = {}, {}
    for b in range(len(images)):
        score, code = labeler.label_anchors(anchor_boxes, tf.constant(boxes[b]),
                                            tf.constant(classes[b, :, None], tf.float32))
        for level in score:
            scores.setdefault(level, []).append(score[level])
            codes.setdefault(level, []).append(code[level])
    batch = len(images)
    info = np.tile(np.array([[size, size, [1.0, 1.0], [0.0, 0.0]]], "float32"), (batch, 1, 1))
    return {
        "image_info": tf.constant(info),
        "anchor_boxes": {level: tf.tile(value[None], [batch, 1, 1, 1])
                         for level, value in anchor_boxes.items()},
        "gt_boxes": tf.constant(boxes), "gt_classes": tf.constant(classes),
        "gt_masks": tf.constant(masks),
        "rpn_score_targets": {level: tf.stack(v) for level, v in scores.items()},
        "rpn_box_targets": {level: tf.stack(v) for level, v in codes.items()},
    }


def model_garden_step(reference, policy):
    import tf_keras
    from official.core import exp_factory
    from official.vision.tasks.maskrcnn import MaskRCNNTask

    config = exp_factory.get_exp_config("maskrcnn_spinenet_coco").task
    task = MaskRCNNTask(config)
    optimizer = tf_keras.optimizers.SGD(1e-4, momentum=0.9)
    if policy != "float32":
        optimizer = tf_keras.mixed_precision.LossScaleOptimizer(optimizer, dynamic=False,
                                                                initial_scale=1.0)
    return tf.function(lambda images, labels: task.train_step(
        (images, labels), reference, optimizer)["loss"])


def our_step(model):
    model.compile(optimizer=keras.optimizers.SGD(1e-4, momentum=0.9))
    model.optimizer.build(model.trainable_variables)
    return tf.function(lambda inputs: model.train_step((inputs,))["loss"])


def profile(name, step, runs=2):
    """Op types of `runs` steps of row `name` by self time."""
    import tempfile

    from latency_table import op_type_stats, print_op_table

    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        for _ in range(runs):
            float(step(None))
        tf.profiler.experimental.stop()
        totals = op_type_stats(logdir)
    total = sum(t for t, _ in totals.values())
    print(f"\n{name}: {total / runs / 1000:.0f} ms of op self time a step (profiled)")
    print_op_table(totals, runs, TOP.value)


def main(argv):
    del argv
    quiet()
    hardware = print_hardware()
    size, batch = IMAGE_SIZE.value, BATCH_SIZE.value
    images, boxes, classes, masks = ground_truth(batch, size, BOXES.value)
    ours = {"float32": MaskRCNN.from_variant(VARIANT.value, image_size=size)}
    references = model_garden_twins(ours["float32"], build_model_garden_two_stage_detector,
                                    transfer_model_garden_two_stage_weights)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        ours["mixed_bfloat16"] = MaskRCNN.from_variant(VARIANT.value, image_size=size)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    ours["mixed_bfloat16"].set_weights(ours["float32"].get_weights())
    inputs = {"images": tf.constant(images), "boxes": tf.constant(boxes),
              "classes": tf.constant(classes), "masks": tf.constant(masks)}
    labels = model_garden_labels(references["float32"], images, boxes, classes, masks)
    steps = {}
    for policy in POLICIES:
        step = our_step(ours[policy])
        steps[f"ours {policy}"] = lambda _, step=step: step(inputs)
        reference = model_garden_step(references[policy], policy)
        name = REFERENCE if policy == "float32" else "TFM mixed_bfloat16"
        steps[name] = lambda _, step=reference: step(inputs["images"], labels)
    losses = {name: float(step(None)) for name, step in steps.items()}
    print(f"\nMask R-CNN {VARIANT.value} @{size}, batch {batch}, {BOXES.value} instances an "
          f"image: one training step, medians of {RUNS.value} interleaved runs")
    seconds = interleaved_medians(steps, None, RUNS.value, WARMUP.value)
    rows = {}
    for name, value in seconds.items():
        rows[name] = {"ms": value * 1000, "ratio": value / seconds[REFERENCE],
                      "first_loss": losses[name]}
        print(f"  {name:<24}{value * 1000:>10.1f} ms{rows[name]['ratio']:>8.2f}x {REFERENCE}"
              f"   (loss at the first step {losses[name]:.3f})")
    for name in PROFILE.value:
        profile(name, steps[name])
    if JSON_OUT.value:
        with open(JSON_OUT.value, "w") as f:
            json.dump({"hardware": hardware, "variant": VARIANT.value, "image_size": size,
                       "batch": batch, "runs": RUNS.value, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    app.run(main)
