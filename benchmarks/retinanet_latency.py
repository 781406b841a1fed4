"""RetinaNet inference latency: spinenet_tf vs tf-models-official, one run.

    python benchmarks/retinanet_latency.py [--runs 20] [--json out.json]

For RetinaNet on SpineNet-49S @640 and SpineNet-Mobile-49 @384 (91 classes,
the recipes' heads) it builds our model and its Model Garden twin with the
same weights (copied by `spinenet_tf.convert`) and times, batch 1, fp32,
`tf.function`, alternating ours and theirs:

* raw outputs: backbone + head, per-level class logits and box codes;
* end to end: a 480x640 uint8 image -> normalise, resize, pad (each with
  its own preprocessing) -> model -> box decoding and NMS (ours:
  `DetectionDecoder`; Model Garden: its default NMS "v2"), both with the
  same pre-NMS top-k, thresholds and 100 detections.

The head's class bias is raised so that NMS has candidates to work on, as
a trained model would, and both sides report their detection counts.
Needs the `garden` extra.
"""

import json
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from spinenet_tf import RetinaNet, convert  # noqa: E402

RUNS = flags.DEFINE_integer("runs", 20, "Timed runs per model and path.")
WARMUP = flags.DEFINE_integer("warmup", 3, "Untimed runs per model and path.")
JSON_OUT = flags.DEFINE_string("json", None, "Also write the results here.")

CASES = [("RetinaNet SpineNet-49S", "spinenet-49s", 640),
         ("RetinaNet SpineNet-Mobile-49", "spinenet-mobile-49", 384)]


def _time_once(function, inputs):
    start = time.perf_counter()
    outputs = function(inputs)
    tf.nest.map_structure(lambda v: v.numpy(), outputs)  # wait for results
    return time.perf_counter() - start


def _interleaved(functions, inputs, runs, warmup):
    for _ in range(warmup):
        for function in functions:
            _time_once(function, inputs)
    times = [[] for _ in functions]
    for _ in range(runs):
        for i, function in enumerate(functions):
            times[i].append(_time_once(function, inputs))
    return [statistics.median(t) * 1000 for t in times]


def benchmark(name, size, runs, warmup):
    from official.vision.ops import preprocess_ops

    ours = RetinaNet.from_variant(name, num_classes=91)
    reference = convert.build_model_garden_retinanet(ours)
    # Candidates for NMS: class scores around 0.1 instead of the prior 0.01.
    bias = reference.head._classifier.bias
    bias.assign(np.full(bias.shape, -2.2, "float32"))
    convert.transfer_model_garden_retinanet_weights(reference, ours)

    def ours_raw(x):
        return ours(x, training=False)

    def reference_raw(x):
        return reference.head(reference.backbone(x, training=False), training=False)

    def ours_end_to_end(image):
        x, info = ours.preprocessor(image[None])
        return ours.serving_outputs(x, info)

    def reference_end_to_end(image):
        x = preprocess_ops.normalize_image(image)
        x, info = preprocess_ops.resize_and_crop_image(x, [size, size], [size, size])
        outputs = reference(x[None], image_shape=info[1:2], training=False)
        return {k: outputs[k] for k in ("detection_boxes", "detection_scores",
                                        "detection_classes", "num_detections")}

    rng = np.random.default_rng(0)
    images = tf.constant(rng.normal(size=(1, size, size, 3)).astype("float32"))
    photo = tf.constant(rng.integers(0, 256, (480, 640, 3)).astype("uint8"))
    functions = [tf.function(f) for f in (ours_raw, reference_raw,
                                          ours_end_to_end, reference_end_to_end)]
    raw = _interleaved(functions[:2], images, runs, warmup)
    end_to_end = _interleaved(functions[2:], photo, runs, warmup)
    ours_dets = functions[2](photo)
    reference_dets = functions[3](photo)
    return {
        "image_size": size,
        "raw_ours_ms": raw[0], "raw_reference_ms": raw[1],
        "raw_ratio": raw[0] / raw[1],
        "end_to_end_ours_ms": end_to_end[0],
        "end_to_end_reference_ms": end_to_end[1],
        "end_to_end_ratio": end_to_end[0] / end_to_end[1],
        "detections_ours": int(ours_dets["num_detections"][0]),
        "detections_reference": int(reference_dets["num_detections"][0]),
    }


def main(argv):
    del argv
    from spinenet_tf.hardware import hardware_line

    print(hardware_line(), flush=True)  # CPU model, cores, cpu_flags (AVX-512, AMX)
    machine = (f"{platform.processor() or platform.machine()}, "
               f"{os.cpu_count()} logical CPUs, TensorFlow {tf.__version__}")
    print(f"batch 1, fp32, tf.function graph, median of {RUNS.value} runs; {machine}")
    print(f"{'model':<30}{'input':>6}{'raw ours':>10}{'raw TFM':>9}{'ratio':>7}"
          f"{'e2e ours':>10}{'e2e TFM':>9}{'ratio':>7}{'dets':>9}")
    results = {"machine": machine, "runs": RUNS.value, "cases": {}}
    for title, name, size in CASES:
        r = benchmark(name, size, RUNS.value, WARMUP.value)
        results["cases"][title] = r
        print(f"{title:<30}{size:>6}{r['raw_ours_ms']:>10.1f}{r['raw_reference_ms']:>9.1f}"
              f"{r['raw_ratio']:>7.3f}{r['end_to_end_ours_ms']:>10.1f}"
              f"{r['end_to_end_reference_ms']:>9.1f}{r['end_to_end_ratio']:>7.3f}"
              f"{r['detections_ours']:>5}/{r['detections_reference']:<3}")
    if JSON_OUT.value:
        with open(JSON_OUT.value, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    app.run(main)
