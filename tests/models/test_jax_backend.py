"""Every model family on Keras' JAX backend: the `.keras` files TensorFlow
wrote load there, their forward passes and `predict` (detections, NMS
included: `ops.nms` runs in keras.ops off TensorFlow) give TensorFlow's
outputs, and a file saved under JAX loads back to the same outputs.
Backbones (their every block kind, in short block-spec lists: the full
sizes are the PyTorch test's) and the folded inference form too. Mask R-CNN
is Cascade R-CNN's base (`TwoStageDetector`) with one box stage, so the
cascade covers its layers. Training and export stay on TensorFlow. Skipped where JAX is not
installed (CI installs it)."""

import importlib.util
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from support import (
    SHORT_BLOCK_SPECS, SHORT_MOBILE_BLOCK_SPECS, random_images, randomize_batch_norm)

from spinenet_tf import CascadeRCNN, RetinaNet, SpineNet, SpineNetClassifier
from spinenet_tf import SpineNetMobile

pytestmark = pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                                reason="jax is not installed")

SIZE = 128
# Few candidates and room for all of them, so the detections compared are
# every box NMS keeps (no cut-off between near-equal scores).
DETECTION = dict(pre_nms_top_k=20, max_detections=100)
TWO_STAGE = dict(rpn_num_filters=8, box_num_convs=1, box_num_filters=8, box_fc_dims=16,
                 mask_num_convs=1, mask_num_filters=8, block_specs=SHORT_MOBILE_BLOCK_SPECS)

# JAX compiles every op of an eager pass (and every initializer while a
# file loads) for its shapes: at XLA's lowest optimisation level that takes
# half the time, and these inputs are too small for its code to matter.
XLA_FLAGS = " ".join([os.environ.get("XLA_FLAGS", ""), "--xla_backend_optimization_level=0"])

JAX_SCRIPT = """
import json, sys
import numpy as np
import keras
assert keras.backend.backend() == "jax", keras.backend.backend()
import spinenet_tf

spec = json.loads(sys.argv[1])
x = np.load(spec["inputs"])
results = {}


def record(prefix, outputs):
    outputs = outputs if isinstance(outputs, dict) else {"output": outputs}
    for key, value in outputs.items():
        if not isinstance(value, (list, tuple, dict)):
            results[f"{prefix}/{key}"] = keras.ops.convert_to_numpy(value)


for name, path in spec["models"].items():
    model = keras.saving.load_model(path)
    # Saved under JAX, the file loads back to the same layers and values.
    again_path = path.replace(".keras", "_jax.keras")
    model.save(again_path)
    again = keras.saving.load_model(again_path)
    assert again.get_config() == model.get_config(), name
    assert [w.path for w in again.weights] == [w.path for w in model.weights], name
    for mine, theirs in zip(model.weights, again.weights):
        assert np.array_equal(keras.ops.convert_to_numpy(mine),
                              keras.ops.convert_to_numpy(theirs)), (name, mine.path)
    # Detectors through `predict` only (one compiled graph): their eager
    # call would run NMS's loop op by op, minutes on JAX.
    if name not in spec["detectors"]:
        record(f"{name}/call", model(x, training=False))
    if name in spec["predict"]:
        record(f"{name}/predict", model.predict(x, verbose=0))
    if name in spec["folded"]:
        record(f"{name}/folded", spinenet_tf.inference_model(model)(x, training=False))
np.savez(spec["outputs"], **results)
"""


def models():
    keras.utils.set_random_seed(0)
    built = {
        "spinenet_49s": SpineNet("49S", input_shape=(SIZE, SIZE, 3), activation="swish",
                                 block_specs=SHORT_BLOCK_SPECS),
        # The task models' variant: JAX compiles each op once per shape.
        "spinenet_mobile": SpineNetMobile("49XS", input_shape=(SIZE, SIZE, 3),
                                          block_specs=SHORT_MOBILE_BLOCK_SPECS),
        "retinanet": RetinaNet.from_variant(
            "spinenet-mobile-49xs", num_classes=4, image_size=SIZE, head_num_convs=1,
            head_num_filters=8, block_specs=SHORT_MOBILE_BLOCK_SPECS, **DETECTION),
        "cascade_rcnn": CascadeRCNN.from_variant("spinenet-mobile-49xs", num_classes=4,
                                                 image_size=SIZE, **TWO_STAGE),
        "classifier": SpineNetClassifier.from_variant(
            "spinenet-mobile-49xs", num_classes=5, image_size=SIZE,
            block_specs=SHORT_MOBILE_BLOCK_SPECS),
    }
    rng = np.random.default_rng(0)
    for model in built.values():
        randomize_batch_norm(model)
        for weight in model.weights:  # scores that differ, so NMS has work and few ties
            layer = weight.path.split("/")[-2]
            if "bn" not in layer and any(part in layer for part in ("class", "logits",
                                                                     "rpn_scores")):
                weight.assign(rng.normal(0, 0.3, weight.shape).astype("float32"))
    return built


def detections_by_image(outputs, prefix):
    """Per image, the detections as a set-like sorted array: near-equal
    scores may come out in either order on two backends."""
    count = outputs[f"{prefix}/num_detections"]
    rows = []
    for image in range(len(count)):
        n = int(count[image])
        table = np.concatenate([
            outputs[f"{prefix}/detection_classes"][image, :n, None].astype("float32"),
            outputs[f"{prefix}/detection_boxes"][image, :n],
            outputs[f"{prefix}/detection_scores"][image, :n, None]], axis=1)
        rows.append(table[np.lexsort(np.round(table[:, ::-1], 3).T)])
    return rows


def matched_proposals(expected_rois, received_rois):
    """Per image, index pairs (expected, received) of the same proposal.
    Proposals of near-equal RPN scores may leave NMS in either order on two
    backends, and a box at the IoU threshold may go either way."""
    pairs = []
    for e, r in zip(expected_rois, received_rois):
        distance = np.abs(e[:, None, :] - r[None, :, :]).max(-1)
        nearest = distance.argmin(1)
        found = distance[np.arange(len(e)), nearest] < 1e-3
        pairs.append((np.flatnonzero(found), nearest[found]))
    return pairs


@pytest.mark.slow
def test_every_family_runs_on_jax_with_tensorflows_outputs(tmp_path):
    built = models()
    x = random_images((SIZE, SIZE, 3), batch=2)
    np.save(tmp_path / "inputs.npy", x)
    paths = {}
    for name, model in built.items():
        paths[name] = str(tmp_path / f"{name}.keras")
        model.save(paths[name])
    detectors = ["retinanet", "cascade_rcnn"]
    spec = dict(inputs=str(tmp_path / "inputs.npy"), outputs=str(tmp_path / "jax.npz"),
                models=paths, detectors=detectors, predict=detectors + ["classifier"],
                folded=["spinenet_mobile"])
    result = subprocess.run([sys.executable, "-c", JAX_SCRIPT, json.dumps(spec)],
                            env=dict(os.environ, KERAS_BACKEND="jax", XLA_FLAGS=XLA_FLAGS),
                            capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    received = dict(np.load(spec["outputs"]))

    compared = 0
    for name, model in built.items():
        outputs = model(x, training=False)
        outputs = outputs if isinstance(outputs, dict) else {"output": outputs}
        for key, value in outputs.items():
            if isinstance(value, (list, tuple, dict)) or name in detectors and "detection" in key:
                continue
            how = "predict" if name in detectors else "call"
            got, want = received[f"{name}/{how}/{key}"], np.asarray(value)
            if name in detectors and key in ("rois", "class_logits", "box_deltas"):
                pairs = matched_proposals(np.asarray(outputs["rois"]),
                                          received[f"{name}/{how}/rois"])
                for (e, r), image in zip(pairs, range(len(want))):
                    assert len(e) >= 0.99 * len(want[image]), (name, key, len(e))
                got = np.concatenate([got[i][r] for i, (_, r) in enumerate(pairs)])
                want = np.concatenate([want[i][e] for i, (e, _) in enumerate(pairs)])
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=f"{name} {key}")
            compared += 1
        if name in spec["folded"]:
            for key, value in outputs.items():
                np.testing.assert_allclose(received[f"{name}/folded/{key}"], value,
                                           rtol=1e-4, atol=1e-4, err_msg=f"{name} folded {key}")
    decided_rows = {name: 0 for name in detectors}
    for name in detectors:
        expected = {f"tf/{k}": np.asarray(v) for k, v in built[name].predict(
            x, verbose=0).items()}
        assert expected["tf/num_detections"].min() > 0, name
        for e, r in zip(detections_by_image(expected, "tf"),
                        detections_by_image(received, f"{name}/predict")):
            assert e.shape == r.shape, (name, e.shape, r.shape)
            # Which of several near-equal scores NMS keeps (at the cut-off,
            # or among overlapping boxes) is arbitrary: the detections
            # scoring clearly above the lowest kept one must be the same
            # boxes (most of them: a near-tie between two overlapping boxes
            # may still go either way), the rest are only counted.
            decided = e[:, -1] > e[:, -1].min() + 1e-4
            distance = np.abs(e[decided][:, None, :] - r[None, :, :]).max(-1)
            if decided.any():
                matched = (distance.min(1) < 1e-3).mean()
                assert matched >= 0.9, (name, matched, e, r)
            decided_rows[name] += int(decided.sum())
    # The RetinaNet's scores vary (random class weights): its check has rows.
    assert decided_rows["retinanet"] >= 10, decided_rows
    logits = built["classifier"].predict(x, verbose=0)
    np.testing.assert_allclose(received["classifier/predict/output"], logits, rtol=1e-4,
                               atol=1e-4)
    assert compared > 10, compared
