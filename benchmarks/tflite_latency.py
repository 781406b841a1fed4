"""TFLite latency: our fp32 / fp16 / int8 files vs the reference's Keras model.

    python benchmarks/tflite_latency.py [--runs 20] [--model_dir outputs/demo/run]

RetinaNet SpineNet-Mobile-49 @384 (91 classes, the recipe's head), batch 1:

* ours: `.tflite` files from `spinenet_tf.export.tflite.convert_to_tflite`
  (normalisation, model and the `TFLite_Detection_PostProcess` op inside),
  fp32, fp16 and int8 (calibrated on synthetic shapes at 384; uint8 input),
  run by ai-edge-litert with 2 threads and its XNNPACK delegate;
* reference: tf-models-official's Keras RetinaNet with the same weights,
  fp32, backbone + head in a `tf.function` (no NMS, which only favours it).

Both carry the same random weights. Float latency does not depend on them;
int8's does a little: the exporter keeps ops around tensors that were
constant during calibration float, and random weights give many.
The int8 AP drop needs a trained detector: with `--model_dir` (a train.py
run, e.g. the demo's) it also exports that model as fp32 and int8 TFLite and
reports the COCO AP of Keras, fp32 and int8 on its evaluation data.
Needs the `garden` and `test` extras.
"""

import json
import os
import platform
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

RUNS = flags.DEFINE_integer("runs", 20, "Timed runs per side.")
WARMUP = flags.DEFINE_integer("warmup", 3, "Untimed runs per side.")
MODEL_DIR = flags.DEFINE_string("model_dir", None, "A trained run for the int8 AP drop.")
JSON_OUT = flags.DEFINE_string("json", None, "Also write the results here.")

SIZE = 384


def _median_ms(function, runs, warmup):
    for _ in range(warmup):
        function()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def latency(runs, warmup):
    from spinenet_tf import RetinaNet, convert
    from spinenet_tf.data import synthetic
    from spinenet_tf.data.coco import load_coco
    from spinenet_tf.data.image_files import load_image
    from spinenet_tf.export.exported_detectors import TFLiteDetector
    from spinenet_tf.export.tflite import convert_to_tflite

    ours = RetinaNet.from_variant("spinenet-mobile-49", num_classes=91, image_size=SIZE)
    reference = convert.build_model_garden_retinanet(ours)
    convert.transfer_model_garden_retinanet_weights(reference, ours)
    folder = tempfile.mkdtemp()
    paths = synthetic.generate(folder, num_train=32, num_val=0, image_size=SIZE)
    records = load_coco(paths["train"], os.path.join(folder, "train", "images")).records
    images = [ours.preprocessor.geometry(load_image(r.path))[0].numpy() for r in records]
    files = {"fp32": convert_to_tflite(ours, "fp32"),
             "fp16": convert_to_tflite(ours, "fp16"),
             "int8": convert_to_tflite(ours, "int8", representative_images=images,
                                       uint8_input=True)}
    detectors = {name: TFLiteDetector(flatbuffer, ours.preprocessor)
                 for name, flatbuffer in files.items()}
    image = images[0]
    batch = tf.constant(((image / 255.0 - [0.485, 0.456, 0.406]) /
                         [0.229, 0.224, 0.225])[None].astype("float32"))
    reference_raw = tf.function(lambda x: reference.head(
        reference.backbone(x, training=False), training=False))

    def run_reference():
        tf.nest.map_structure(lambda v: v.numpy(), reference_raw(batch))

    sides = {f"ours TFLite {name}": (lambda d=d: d.run(image)) for name, d in detectors.items()}
    sides["reference Keras fp32 (raw)"] = run_reference
    # Alternate the sides, a block of runs at a time.
    times = {name: [] for name in sides}
    for _ in range(4):
        for name, function in sides.items():
            times[name].append(_median_ms(function, max(runs // 4, 1), warmup))
    results = {name: statistics.median(t) for name, t in times.items()}
    sizes = {name: len(flatbuffer) / 2**20 for name, flatbuffer in files.items()}
    return results, sizes


def ap_drop(model_dir):
    from spinenet_tf.config import load_config
    from spinenet_tf.evaluation import keras_detect
    from spinenet_tf.export.exported_detectors import TFLiteDetector
    from spinenet_tf.export.tflite import convert_to_tflite
    from spinenet_tf.export.tflite_export import calibration_images
    from spinenet_tf.models.base import task_for_config
    from spinenet_tf.training.checkpoints import CONFIG_FILE, load_model_dir

    model, _ = load_model_dir(model_dir)
    config = load_config(os.path.join(model_dir, CONFIG_FILE))
    size = tuple(int(s) for s in model.inputs[0].shape[1:3])
    calibration = calibration_images(config.train_data.image_dir, 100, model.preprocessor)
    evaluation = task_for_config(config).evaluation_data(model)
    detectors = {"keras": keras_detect(model)}
    for name, flatbuffer in (
            ("fp32", convert_to_tflite(model, "fp32")),
            ("int8", convert_to_tflite(model, "int8", representative_images=calibration,
                                       uint8_input=True))):
        detectors[name] = TFLiteDetector(flatbuffer, model.preprocessor)
    metrics = {name: evaluation.evaluate(detect, progress=False)
               for name, detect in detectors.items()}
    return {"backbone": config.model.backbone, "image_size": list(size),
            "evaluated_images": metrics["keras"]["evaluated_images"],
            **{name: m["AP"] for name, m in metrics.items()}}


def main(argv):
    del argv
    from spinenet_tf.utils.hardware import hardware_line

    print(hardware_line(), flush=True)  # CPU model, cores, cpu_flags (AVX-512, AMX)
    machine = (f"{platform.processor() or platform.machine()}, "
               f"{os.cpu_count()} logical CPUs, TensorFlow {tf.__version__}")
    results, sizes = latency(RUNS.value, WARMUP.value)
    reference = results["reference Keras fp32 (raw)"]
    print(f"RetinaNet SpineNet-Mobile-49 @{SIZE}, batch 1, 2 threads (LiteRT); {machine}")
    for name, ms in results.items():
        size = sizes.get(name.split()[-1], None)
        print(f"  {name:<30}{ms:>8.1f} ms   ratio to reference {ms / reference:.3f}"
              + (f"   {size:.2f} MiB" if size else ""))
    summary = {"machine": machine, "latency_ms": results, "tflite_mib": sizes}
    if MODEL_DIR.value:
        drop = ap_drop(MODEL_DIR.value)
        summary["ap"] = drop
        print(f"COCO AP of {drop['backbone']} @{drop['image_size'][0]} on "
              f"{drop['evaluated_images']} images: Keras {drop['keras']:.3f}, TFLite fp32 "
              f"{drop['fp32']:.3f}, int8 {drop['int8']:.3f} (int8 - Keras: "
              f"{100 * (drop['int8'] - drop['keras']):+.1f} points; int8 - fp32: "
              f"{100 * (drop['int8'] - drop['fp32']):+.1f})")
    if JSON_OUT.value:
        with open(JSON_OUT.value, "w") as f:
            json.dump(summary, f, indent=2)


if __name__ == "__main__":
    app.run(main)
