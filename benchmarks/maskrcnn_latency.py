"""Mask R-CNN inference latency: spinenet_tf's forms vs tf-models-official's.

    python benchmarks/maskrcnn_latency.py [--runs 5] [--batch_sizes 1] [--json out.json]

Mask R-CNN on SpineNet-49 @640 (the `maskrcnn_spinenet_coco` recipe, 91
classes), same weights on both sides (copied by
`spinenet_tf.rcnn.model_garden_twin.transfer_model_garden_two_stage_weights`; batch norm
statistics randomised; the box head's class bias raised so that the
detection generator has candidates, as a trained model would). Timed, one
process, in turn, medians: normalised images in, detections and their
28 x 28 masks out (backbone, RPN, proposals, ROI align, box head, per-class
NMS, mask head):

* ours float32 as built; ours folded float32 and folded bfloat16
  (`spinenet_tf.inference_model`: the backbone folded and, in bfloat16,
  computed in bfloat16; what `export_saved_model.py --precision` serves);
* tf-models-official float32, and with tf_keras' `mixed_bfloat16` policy.

Each row: ms, ratio to tf-models-official float32, achieved GFLOP/s (2 x
the backbone's and heads' multiply-adds, as counted on our model) and its
share of the measured bf16 conv peak; the header gives the CPU flags
(AVX-512 BF16, AMX) and the measured conv throughput. Needs the `garden`
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

from spinenet_tf import MaskRCNN  # noqa: E402
from spinenet_tf.rcnn.model_garden_twin import (  # noqa: E402
    build_model_garden_two_stage_detector,
    transfer_model_garden_two_stage_weights,
)
from spinenet_tf.utils.model_complexity import count_macs  # noqa: E402

RUNS = flags.DEFINE_integer("runs", 5, "Timed runs per row.")
WARMUP = flags.DEFINE_integer("warmup", 1, "Untimed runs per row.")
BATCH_SIZES = flags.DEFINE_list("batch_sizes", ["1"], "Batch sizes to time.")
VARIANT = flags.DEFINE_string("variant", "spinenet-49", "Backbone variant.")
IMAGE_SIZE = flags.DEFINE_integer("image_size", 640, "Input side.")
JSON_OUT = flags.DEFINE_string("json", None, "Also write the results here.")

OUTPUT_KEYS = ("detection_boxes", "detection_scores", "detection_classes",
               "num_detections", "detection_masks")


def raise_class_bias(reference):
    """Detection candidates: foreground scores well above the 0.05 threshold."""
    heads = reference.detection_head
    head = heads[0] if isinstance(heads, list) else heads
    bias = np.zeros(head._classifier.bias.shape, "float32")
    bias[0], bias[1:6] = -3.0, 4.0  # five likely classes, background unlikely
    head._classifier.bias.assign(bias)


def main(argv):
    del argv
    quiet()
    hardware = print_hardware()  # CPU model, cpu_flags (AVX-512 BF16, AMX), conv peaks
    size = IMAGE_SIZE.value
    print(f"tf.function graph, medians of {RUNS.value} interleaved runs")
    ours = MaskRCNN.from_variant(VARIANT.value, num_classes=91, image_size=size)
    references = model_garden_twins(ours, build_model_garden_two_stage_detector,
                                    transfer_model_garden_two_stage_weights,
                                    prepare=raise_class_bias)
    functions, _ = timed_forms(ours, references, float(size), OUTPUT_KEYS)
    macs = count_macs(ours.backbone)
    results = {"hardware": hardware, "runs": RUNS.value, "variant": VARIANT.value,
               "image_size": size, "batches": {}}
    for batch in (int(b) for b in BATCH_SIZES.value):
        x = tf.constant(np.random.default_rng(0).normal(
            size=(batch, size, size, 3)).astype("float32"))
        counts = {row: int(function(x)["num_detections"][0])
                  for row, function in functions.items()}
        seconds = interleaved_medians(functions, x, RUNS.value, WARMUP.value)
        table = print_rows(f"Mask R-CNN {VARIANT.value} @{size} (GFLOP/s of the backbone)",
                           seconds, REFERENCE, macs, batch, hardware["conv_gflops"]["bfloat16"])
        for row in table:
            table[row]["detections"] = counts[row]
        print("  detections in the first image: " + ", ".join(
            f"{row} {count}" for row, count in counts.items()))
        results["batches"][f"batch {batch}"] = table
    if JSON_OUT.value:
        with open(JSON_OUT.value, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    app.run(main)
