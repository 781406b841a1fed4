"""Training throughput: spinenet_tf vs tf-models-official, float32 and
bfloat16, one process.

    python benchmarks/train_throughput.py [--models 49S,Mobile-49] [--steps 8] [--json out.json]

RetinaNet SpineNet-49S @384 and SpineNet-Mobile-49 @384 (91 classes, each
recipe's head), batch 8, SGD with momentum, one device. For each model, all
sides train on the same batch with the same ground truth (the reference
gets the per-anchor targets of `spinenet_tf.models.retinanet.AnchorLabeler`, equal
to its own labeler, tested, made once outside the step; ours encodes them
inside its step, as `fit` does):

* ours: the Keras train function that `fit` runs (`make_train_function`),
  float32 and under the `mixed_bfloat16` policy (`trainer.mixed_precision:
  bfloat16`), without XLA and, for 49S, with it (Keras' default on
  TensorFlow; XLA is slow for SpineNet-Mobile's depthwise convolutions);
* reference: `RetinaNetTask.train_step` of tf-models-official in a
  `tf.function`, as its trainer runs it, float32 and with its own
  `runtime.mixed_precision_dtype: bfloat16` setting (tf_keras' global
  `mixed_bfloat16` policy while the model is built).

Prints the CPU flags first (cpu_flags: AVX-512 BF16, AMX), then per model
each side's images/s (median of steps timed in turn after warm-up) and its
ratio to the reference's fastest side, and the input pipeline's rate
(`DetectionInput` on the synthetic shapes at 384, decoding and
augmentation) against the fastest train step. Needs the `garden` extra.
"""

import json
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

MODELS = flags.DEFINE_list("models", ["49S", "Mobile-49"], "49S and/or Mobile-49.")
STEPS = flags.DEFINE_integer("steps", 8, "Timed steps per side.")
WARMUP = flags.DEFINE_integer("warmup", 2, "Untimed steps per side.")
JSON_OUT = flags.DEFINE_string("json", None, "Also write the results here.")

SIZE, BATCH, NUM_CLASSES = 384, 8, 91
VARIANTS = {"49S": "spinenet-49s", "Mobile-49": "spinenet-mobile-49"}


def _batch():
    """A fixed batch: images and per-anchor targets from random boxes."""
    from spinenet_tf.models.retinanet import AnchorGenerator, AnchorLabeler

    rng = np.random.default_rng(0)
    images = rng.normal(size=(BATCH, SIZE, SIZE, 3)).astype("float32")
    boxes = np.zeros((BATCH, 10, 4), "float32")
    classes = -np.ones((BATCH, 10), "int32")
    for b in range(BATCH):
        y, x = rng.uniform(0, SIZE - 100, (2, 10))
        h, w = rng.uniform(16, 100, (2, 10))
        boxes[b] = np.stack([y, x, y + h, x + w], -1)
        classes[b] = rng.integers(1, NUM_CLASSES, 10)
    generator = AnchorGenerator(3, 7, 3, (0.5, 1.0, 2.0), 3.0)
    targets = AnchorLabeler()(generator.flat_anchors(SIZE, SIZE), boxes, classes)
    ground_truth = {"boxes": boxes, "classes": classes}
    return images, ground_truth, {k: np.asarray(v) for k, v in targets.items()}, generator


def _ours(variant, images, ground_truth, jit_compile, policy):
    import keras

    from spinenet_tf import RetinaNet

    keras.utils.set_random_seed(0)
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = RetinaNet.from_variant(variant, num_classes=NUM_CLASSES, image_size=SIZE,
                                       activation="swish")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  jit_compile=jit_compile)
    dataset = tf.data.Dataset.from_tensors((images, ground_truth)).repeat()
    iterator = iter(dataset)
    model.make_train_function()
    function = model.train_function

    def step():
        logs = function(iterator)
        float(logs["loss"])

    return step


def _reference(variant, images, targets, generator, policy):
    import tf_keras
    from official.vision.configs import retinanet as retinanet_cfg
    from official.vision.tasks import retinanet as retinanet_task

    from spinenet_tf.models.retinanet import VARIANT_SETTINGS

    recipe = VARIANT_SETTINGS[variant]
    if variant.startswith("spinenet-mobile"):
        task_config = retinanet_cfg.retinanet_spinenet_mobile_coco().task
        task_config.model.backbone.spinenet_mobile.model_id = variant.split("-")[-1].upper()
        task_config.model.backbone.spinenet_mobile.stochastic_depth_drop_rate = 0.0
    else:
        task_config = retinanet_cfg.retinanet_spinenet_coco().task
        task_config.model.backbone.spinenet.model_id = variant.split("-")[-1].upper()
        task_config.model.backbone.spinenet.stochastic_depth_drop_rate = 0.0
    task_config.model.input_size = [SIZE, SIZE, 3]
    task_config.model.head.num_filters = recipe.head_num_filters
    task_config.model.head.use_separable_conv = recipe.use_separable_conv
    task_config.model.norm_activation.use_sync_bn = False
    task = retinanet_task.RetinaNetTask(task_config)
    tf_keras.mixed_precision.set_global_policy(policy)  # as its runtime setting does
    try:
        model = task.build_model()
    finally:
        tf_keras.mixed_precision.set_global_policy("float32")
    optimizer = tf_keras.optimizers.SGD(0.01, momentum=0.9)
    metrics = task.build_metrics(training=True)
    multilevel = generator.multilevel_anchors(SIZE, SIZE)

    def per_level(flat, width):
        out, start = {}, 0
        for key, anchors in multilevel.items():
            h, w, a4 = anchors.shape
            count = h * w * a4 // 4
            out[key[1:]] = flat[:, start:start + count].reshape(BATCH, h, w, -1 if width else a4 // 4)
            start += count
        return out

    labels = {
        "cls_targets": per_level(targets["class_targets"], 0),
        "box_targets": per_level(targets["box_targets"], 4),
        "cls_weights": targets["class_weights"],
        "box_weights": targets["box_weights"],
    }
    inputs = (tf.constant(images), tf.nest.map_structure(tf.constant, labels))
    function = tf.function(lambda: task.train_step(inputs, model, optimizer, metrics))

    def step():
        logs = function()
        float(logs["loss"])

    return step


def _time(step):
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def _pipeline_images_per_second(batches=12):
    from spinenet_tf.data import synthetic
    from spinenet_tf.data.coco import load_coco
    from spinenet_tf.data.detection_input import DetectionInput, examples_from_coco
    from spinenet_tf.layers import ImagePreprocessor

    folder = tempfile.mkdtemp()
    paths = synthetic.generate(folder, num_train=64, num_val=0, image_size=SIZE)
    dataset = load_coco(paths["train"], os.path.join(folder, "train", "images"))
    parser = DetectionInput(ImagePreprocessor((SIZE, SIZE)), training=True,
                            aug_scale_min=0.1, aug_scale_max=2.0)
    stream = iter(parser(examples_from_coco(dataset), BATCH))
    for _ in range(3):
        next(stream)
    start = time.perf_counter()
    for _ in range(batches):
        next(stream)
    return batches * BATCH / (time.perf_counter() - start)


def _sides(name, images, ground_truth, targets, generator):
    variant = VARIANTS[name]
    sides = {
        "ours float32": _ours(variant, images, ground_truth, False, "float32"),
        "ours bfloat16": _ours(variant, images, ground_truth, False, "mixed_bfloat16"),
    }
    if not variant.startswith("spinenet-mobile"):
        sides["ours float32, XLA"] = _ours(variant, images, ground_truth, True, "float32")
        sides["ours bfloat16, XLA"] = _ours(variant, images, ground_truth, True,
                                            "mixed_bfloat16")
    sides["reference float32"] = _reference(variant, images, targets, generator, "float32")
    sides["reference bfloat16"] = _reference(variant, images, targets, generator,
                                             "mixed_bfloat16")
    return sides


def main(argv):
    del argv
    from spinenet_tf.utils.hardware import hardware_line

    print(hardware_line(), flush=True)  # CPU model, cores, cpu_flags (AVX-512, AMX)
    images, ground_truth, targets, generator = _batch()
    pipeline = _pipeline_images_per_second()
    results = {"machine": hardware_line(), "pipeline_images_per_second": pipeline}
    for name in MODELS.value:
        if name not in VARIANTS:
            raise app.UsageError(f"--models takes {list(VARIANTS)}; received {name!r}.")
        sides = _sides(name, images, ground_truth, targets, generator)
        for step in sides.values():
            for _ in range(WARMUP.value):
                step()
        times = {side: [] for side in sides}
        for _ in range(STEPS.value):
            for side, step in sides.items():
                times[side].append(_time(step))
        rates = {side: BATCH / statistics.median(t) for side, t in times.items()}
        reference = max(rate for side, rate in rates.items() if side.startswith("reference"))
        ours = max(rate for side, rate in rates.items() if side.startswith("ours"))
        print(f"\nRetinaNet SpineNet-{name} @{SIZE}, batch {BATCH}, median of "
              f"{STEPS.value} steps timed in turn")
        for side, rate in rates.items():
            print(f"  {side:<24}{rate:>8.2f} images/s   x reference's fastest "
                  f"{rate / reference:.2f}")
        print(f"  ours fastest / reference fastest: {ours / reference:.2f}; input "
              f"pipeline alone {pipeline:.1f} images/s = {pipeline / ours:.1f}x ours fastest",
              flush=True)
        results[name] = {"images_per_second": rates, "ours_over_reference": ours / reference}
    if JSON_OUT.value:
        with open(JSON_OUT.value, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    app.run(main)
