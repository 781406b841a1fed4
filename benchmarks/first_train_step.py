"""The first training step of a compiled model: the optimizer's slot
variables made before it (what the family models do) against inside it
(Keras' default without a distribution strategy).

    python benchmarks/first_train_step.py [--pairs 3] [--variant spinenet-mobile-49xs]

Each measurement is a fresh process (tracing caches live in the process),
the two ways alternating pair by pair so drift of the machine hits both:
a RetinaNet `from_variant` at `--image_size`, `compile(Adam)`, then the CPU
seconds of the first `train_on_batch` (tracing the step, TensorFlow's graph
optimizer, the first run) and the loss of the next three steps, which must
be equal both ways. Prints the CPU model and flags.
"""

import functools
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from spinenet_tf import RetinaNet  # noqa: E402
from spinenet_tf.utils.hardware import hardware_line  # noqa: E402

PAIRS = flags.DEFINE_integer("pairs", 3, "Processes per way.")
VARIANT = flags.DEFINE_string("variant", "spinenet-mobile-49xs", "Backbone variant.")
IMAGE_SIZE = flags.DEFINE_integer("image_size", 128, "Input side.")
BATCH_SIZE = flags.DEFINE_integer("batch_size", 4, "Images per step.")
WAY = flags.DEFINE_enum("way", None, ["before", "inside"],
                        "Internal: measure one way in this process.")


def measure(way):
    """{"first_step_cpu_s", "losses"} of one way, in this process."""
    keras.utils.set_random_seed(0)
    model = RetinaNet.from_variant(VARIANT.value, num_classes=4, image_size=IMAGE_SIZE.value)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    if way == "inside":  # Keras' own: the slot variables made while tracing
        model.make_train_function = functools.partial(keras.Model.make_train_function, model)
    rng = np.random.default_rng(0)
    size, batch = IMAGE_SIZE.value, BATCH_SIZE.value
    images = rng.normal(0, 1, (batch, size, size, 3)).astype("float32")
    corners = rng.uniform(0, size / 2, (batch, 2, 2))
    boxes = np.concatenate([corners, corners + size / 4], -1).astype("float32")
    targets = {"boxes": boxes, "classes": rng.integers(1, 4, (batch, 2)).astype("int32")}
    start = time.process_time()
    model.train_on_batch(images, targets)
    first = time.process_time() - start
    losses = [float(model.train_on_batch(images, targets, return_dict=True)["loss"])
              for _ in range(3)]
    return {"first_step_cpu_s": first, "losses": losses}


def main(argv):
    del argv
    if WAY.value:
        print(json.dumps(measure(WAY.value)))
        return
    print(hardware_line(), flush=True)
    results = {"before": [], "inside": []}
    for pair in range(PAIRS.value):
        for way in ("before", "inside") if pair % 2 == 0 else ("inside", "before"):
            command = [sys.executable, __file__, f"--way={way}", f"--variant={VARIANT.value}",
                       f"--image_size={IMAGE_SIZE.value}", f"--batch_size={BATCH_SIZE.value}"]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"{way} failed:\n{done.stderr[-3000:]}")
            results[way].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"pair {pair}, slots made {way} the step: first step "
                  f"{results[way][-1]['first_step_cpu_s']:.1f} CPU-s", flush=True)
    before = sorted(r["first_step_cpu_s"] for r in results["before"])
    inside = sorted(r["first_step_cpu_s"] for r in results["inside"])
    same = all(b["losses"] == i["losses"] for b, i in zip(results["before"], results["inside"]))
    print(f"{VARIANT.value} @{IMAGE_SIZE.value}, batch {BATCH_SIZE.value}: first train step "
          f"{before[len(before) // 2]:.1f} CPU-s with the slots made before it, "
          f"{inside[len(inside) // 2]:.1f} inside it (medians; "
          f"{inside[len(inside) // 2] / before[len(before) // 2]:.2f}x); "
          f"the next three losses equal: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    app.run(main)
