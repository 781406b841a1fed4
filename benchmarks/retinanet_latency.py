"""RetinaNet inference latency: spinenet_tf's forms vs tf-models-official's.

    python benchmarks/retinanet_latency.py [--runs 10] [--batch_sizes 1,8] [--json out.json]

RetinaNet on SpineNet-49 @640, SpineNet-49S @640 and SpineNet-Mobile-49
@384 (91 classes, each recipe's head), same weights on both sides (copied
by the Model Garden twins (`models.retinanet.model_garden_twin`); batch norm statistics randomised; the class bias
raised so that NMS has candidates, as a trained model would). Timed, one
process, in turn, medians: normalised images in, detections out (model,
box decoding and NMS with the same pre-NMS top-k, thresholds and 100
detections; Model Garden: its default NMS "v2"):

* ours float32 as built; ours folded float32 and folded bfloat16
  (`spinenet_tf.inference_model`; what `export_saved_model.py --precision`
  serves); ours .tflite fp32 with its `TFLite_Detection_PostProcess` op
  (LiteRT, XNNPACK, 2 threads; batch 1);
* tf-models-official float32, and with tf_keras' `mixed_bfloat16` policy.

Each row: ms, ratio to tf-models-official float32, achieved GFLOP/s (2 x
multiply-adds) and its share of the measured bf16 conv peak; the header
gives the CPU flags and the measured conv throughput. Needs the `garden`
extra.
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402
from latency_table import (  # noqa: E402
    REFERENCE,
    interleaved_medians,
    model_garden_twins,
    print_hardware,
    print_rows,
    quiet,
    timed_forms,
)

from spinenet_tf import RetinaNet, convert  # noqa: E402
from spinenet_tf.utils.model_complexity import count_macs  # noqa: E402

RUNS = flags.DEFINE_integer("runs", 10, "Timed runs per row.")
WARMUP = flags.DEFINE_integer("warmup", 2, "Untimed runs per row.")
BATCH_SIZES = flags.DEFINE_list("batch_sizes", ["1", "8"], "Batch sizes to time.")
MODELS = flags.DEFINE_list("models", ["49", "49S", "Mobile-49"], "Which cases.")
TFLITE = flags.DEFINE_boolean("tflite", True, "Also time the .tflite (batch 1).")
JSON_OUT = flags.DEFINE_string("json", None, "Also write the results here.")

CASES = {"49": ("RetinaNet SpineNet-49", "spinenet-49", 640),
         "49S": ("RetinaNet SpineNet-49S", "spinenet-49s", 640),
         "Mobile-49": ("RetinaNet SpineNet-Mobile-49", "spinenet-mobile-49", 384)}
DETECTION_KEYS = ("detection_boxes", "detection_scores", "detection_classes",
                  "num_detections")


def raise_class_bias(reference):
    """Candidates for NMS: class scores around 0.1, not the prior's 0.01."""
    bias = reference.head._classifier.bias
    bias.assign(np.full(bias.shape, -2.2, "float32"))


def tflite_function(model):
    from spinenet_tf.export import convert_to_tflite
    from spinenet_tf.export.exported_detectors import TFLiteDetector

    detector = TFLiteDetector(convert_to_tflite(model, "fp32"), model.preprocessor,
                              threads=2)

    def run(images):  # the file takes 0..255 pixels and normalises inside
        pixels = model.preprocessor.denormalize(images)
        return {k: tf.constant(v) for k, v in detector.run(pixels[0]).items()}
    return run


def benchmark(name, variant, size, peak):
    ours = RetinaNet.from_variant(variant, num_classes=91)
    references = model_garden_twins(
        ours, convert.build_model_garden_retinanet,
        convert.transfer_model_garden_retinanet_weights, prepare=raise_class_bias)
    functions, models = timed_forms(ours, references, size, DETECTION_KEYS)
    macs = count_macs(ours)
    results = {}
    for batch in (int(b) for b in BATCH_SIZES.value):
        x = tf.constant(np.random.default_rng(0).normal(
            size=(batch, size, size, 3)).astype("float32"))
        rows = dict(functions)
        if TFLITE.value and batch == 1:
            rows["ours .tflite fp32 (XNNPACK)"] = tflite_function(models["ours folded float32"])
        counts = {row: int(function(x)["num_detections"][0]) for row, function in rows.items()}
        seconds = interleaved_medians(rows, x, RUNS.value, WARMUP.value)
        table = print_rows(f"{name} @{size}", seconds, REFERENCE, macs, batch, peak)
        for row in table:
            table[row]["detections"] = counts[row]
        print("  detections in the first image: " + ", ".join(
            f"{row.split(' (')[0]} {count}" for row, count in counts.items()))
        results[f"batch {batch}"] = table
    return results


def main(argv):
    del argv
    quiet()
    hardware = print_hardware()  # CPU model, cpu_flags (AVX-512 BF16, AMX), conv peaks
    print(f"tf.function graph, medians of {RUNS.value} interleaved runs")
    results = {"hardware": hardware, "runs": RUNS.value, "cases": {}}
    for key in MODELS.value:
        name, variant, size = CASES[key]
        results["cases"][name] = benchmark(name, variant, size,
                                           hardware["conv_gflops"]["bfloat16"])
    if JSON_OUT.value:
        with open(JSON_OUT.value, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    app.run(main)
