"""Training throughput: spinenet_tf vs tf-models-official, one run.

    python benchmarks/train_throughput.py [--steps 10] [--json out.json]

RetinaNet SpineNet-49S @384 (91 classes, head 4x128), batch 8, fp32, SGD
with momentum, one device. Both sides train on the same batch with the same
ground truth (the reference gets the per-anchor targets of
`spinenet_tf.detection.AnchorLabeler`, equal to its own labeler, tested,
made once outside the step; ours encodes them inside its step, as `fit`
does):

* ours: the Keras train function that `fit` runs (`make_train_function`),
  with Keras' default `jit_compile="auto"` (XLA on TensorFlow) and without;
* reference: `RetinaNetTask.train_step` of tf-models-official in a
  `tf.function`, as its trainer runs it.

Steps are timed alternately after warm-up; medians are reported as images/s.
It also measures the input pipeline alone (`DetectionInput` on the synthetic
shapes at 384) in images/s.
Needs the `garden` extra.
"""

import json
import os
import platform
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

STEPS = flags.DEFINE_integer("steps", 10, "Timed steps per side.")
WARMUP = flags.DEFINE_integer("warmup", 2, "Untimed steps per side.")
JSON_OUT = flags.DEFINE_string("json", None, "Also write the results here.")

SIZE, BATCH, NUM_CLASSES = 384, 8, 91


def _batch():
    """A fixed batch: images and per-anchor targets from random boxes."""
    from spinenet_tf.detection import AnchorGenerator, AnchorLabeler

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


def _ours(images, ground_truth, jit_compile):
    import keras

    from spinenet_tf import RetinaNet

    keras.utils.set_random_seed(0)
    model = RetinaNet.from_variant("spinenet-49s", num_classes=NUM_CLASSES,
                                   image_size=SIZE, activation="swish")
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


def _reference(images, targets, generator):
    import tf_keras
    from official.vision.configs import retinanet as retinanet_cfg
    from official.vision.tasks import retinanet as retinanet_task

    experiment = retinanet_cfg.retinanet_spinenet_coco()
    task_config = experiment.task
    task_config.model.backbone.spinenet.model_id = "49S"
    task_config.model.backbone.spinenet.stochastic_depth_drop_rate = 0.0
    task_config.model.input_size = [SIZE, SIZE, 3]
    task_config.model.head.num_filters = 128
    task_config.model.norm_activation.use_sync_bn = False
    task = retinanet_task.RetinaNetTask(task_config)
    model = task.build_model()
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


def main(argv):
    del argv
    from spinenet_tf.hardware import hardware_line

    print(hardware_line(), flush=True)  # CPU model, cores, cpu_flags (AVX-512, AMX)
    images, ground_truth, targets, generator = _batch()
    sides = {"ours (XLA, Keras default)": _ours(images, ground_truth, "auto"),
             "ours (no XLA)": _ours(images, ground_truth, False),
             "reference": _reference(images, targets, generator)}
    for step in sides.values():
        for _ in range(WARMUP.value):
            step()
    times = {name: [] for name in sides}
    for _ in range(STEPS.value):
        for name, step in sides.items():
            times[name].append(_time(step))
    rates = {name: BATCH / statistics.median(t) for name, t in times.items()}
    pipeline = _pipeline_images_per_second()
    machine = (f"{platform.processor() or platform.machine()}, "
               f"{os.cpu_count()} logical CPUs, TensorFlow {tf.__version__}")
    print(f"RetinaNet SpineNet-49S @{SIZE}, batch {BATCH}, fp32; median of "
          f"{STEPS.value} steps; {machine}")
    reference = rates["reference"]
    for name, rate in rates.items():
        print(f"  {name:<28}{rate:>8.2f} images/s   ratio to reference {rate / reference:.3f}")
    print(f"  input pipeline alone        {pipeline:>8.2f} images/s   "
          f"{pipeline / max(rates.values()):.1f}x the fastest train step")
    if JSON_OUT.value:
        with open(JSON_OUT.value, "w") as f:
            json.dump({"machine": machine, "images_per_second": rates,
                       "pipeline_images_per_second": pipeline}, f, indent=2)


if __name__ == "__main__":
    app.run(main)
