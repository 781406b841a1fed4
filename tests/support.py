"""Helpers the test suite shares: tiny models, images, reference twins,
round trips and command lines. Plain functions (no pytest), importable by
any test module (`from support import ...`: tests/conftest.py's folder is on
the path), so no test module imports another."""

import json
import os
import re
import subprocess
import sys

import keras
import numpy as np

from spinenet_tf.compat.model_garden_internals import retinanet_head_layers
from spinenet_tf.compat.tensorflow_internals import convert_variables_to_constants_v2
from spinenet_tf.models.retinanet import RetinaNet
from spinenet_tf.pretrained import model_zoo_names
from spinenet_tf.utils.batch_norm_statistics import randomize_batch_norm  # noqa: F401

# The checkout the tests sit in (configs/, train.py beside them).
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_SIZE = 128


# --- arrays and models ----------------------------------------------------

def random_images(shape, batch=2, seed=0):
    """Deterministic float images in [-2, 2] (roughly normalised pixels)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-2.0, 2.0, (batch,) + tuple(shape)).astype("float32")


def images_of_sizes(sizes, seed=0):
    """uint8 RGB pixel images of the given (height, width) sizes."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (h, w, 3)).astype("uint8") for h, w in sizes]


def max_abs_difference(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


# SpineNet-Mobile's layers in five blocks, one per output level L3-L7, each
# fed by the two maps before it: the same kinds of layers (MBConv with
# squeeze-excitation, every resampling) in a third of the graph, for tests
# of what is built around a backbone (training, export, quantization) that
# would otherwise spend most of their time tracing. The architecture itself
# is tested at its real size (tests/backbones, tests/pretrained, tests/models).
SHORT_MOBILE_BLOCK_SPECS = [[3, "mbconv", [0, 1], True], [4, "mbconv", [0, 2], True],
                            [5, "mbconv", [2, 3], True], [6, "mbconv", [3, 4], True],
                            [7, "mbconv", [4, 5], True]]
# The same for SpineNet: its two block kinds (bottleneck and residual) in six
# blocks, one per level L2-L7.
SHORT_BLOCK_SPECS = [[2, "bottleneck", [0, 1], False], [3, "bottleneck", [0, 2], True],
                     [4, "residual", [2, 3], True], [5, "bottleneck", [3, 4], True],
                     [6, "residual", [4, 5], True], [7, "bottleneck", [5, 6], True]]


def tiny_detector(name="spinenet-mobile-49xs", num_classes=4, head_num_convs=1,
                  head_num_filters=8, seed=1, short=True, **kwargs):
    """A small RetinaNet at 128 px with random class weights (not the
    prior's near-constant ones), so scores vary and NMS has distinct
    candidates to keep. `head_num_convs=None` keeps the variant's head;
    `short` (a SpineNet-Mobile variant) has `SHORT_MOBILE_BLOCK_SPECS` for
    its blocks, False the variant's own; `kwargs` are settings of the
    `retinanet` config section (`RetinaNet.from_variant`)."""
    keras.utils.set_random_seed(seed)
    head = {} if head_num_convs is None else dict(
        head_num_convs=head_num_convs, head_num_filters=head_num_filters)
    if short:
        head["block_specs"] = SHORT_MOBILE_BLOCK_SPECS
    model = RetinaNet.from_variant(name, num_classes, image_size=TINY_SIZE, **head, **kwargs)
    rng = np.random.default_rng(2)
    for variable in model.head.class_predictor.weights:
        variable.assign(rng.normal(0.0, 0.3, variable.shape).astype("float32"))
    return model


def keras_detections(model, image):
    """The Keras model's detections of one pixel image, in its original
    pixels (boxes, scores, classes), through the model's preprocessor."""
    out = model.serving_outputs(*model.preprocessor(image[None]))
    count = int(out["num_detections"][0])
    return (out["detection_boxes"][0, :count].numpy(),
            out["detection_scores"][0, :count].numpy(),
            out["detection_classes"][0, :count].numpy())


def detection_rows(boxes, scores, classes):
    """Detections as sorted rows (score, class, box) for set comparison:
    random weights give exactly tied scores whose order is arbitrary."""
    table = np.concatenate([np.asarray(scores, "float64")[:, None].round(4),
                            np.asarray(classes, "float64")[:, None],
                            np.asarray(boxes, "float64").round(2)], axis=1)
    return table[np.lexsort(table.T[::-1])]


def instance_rows(outputs, b):
    """Image `b`'s detections as rows (score, class, box) and their masks
    (None without `detection_masks`), from a dict of the four detection
    tensors."""
    n = int(np.asarray(outputs["num_detections"])[b])
    rows = np.concatenate([np.asarray(outputs["detection_scores"])[b, :n, None],
                           np.asarray(outputs["detection_classes"], "float32")[b, :n, None],
                           np.asarray(outputs["detection_boxes"])[b, :n]], axis=1)
    masks = outputs.get("detection_masks")
    return rows, None if masks is None else np.asarray(masks)[b, :n]


def assert_same_instances(ours, theirs, mask_atol=1e-4, tie=1e-6):
    """Detections (and Mask R-CNN's masks, where given) equal to a
    reference's, image by image: the same count, scores and classes in the same order; each
    detection's box (and then its mask) among the reference's, except that
    two detections of one class whose scores tie (within `tie`) may be
    chosen or ordered otherwise by greedy NMS. Returns how many rows matched
    a reference row (the caller asserts it is most of them)."""
    np.testing.assert_array_equal(np.asarray(ours["num_detections"]),
                                  np.asarray(theirs["num_detections"]))
    matched = 0
    for b in range(len(np.asarray(ours["num_detections"]))):
        rows, masks = instance_rows(ours, b)
        their_rows, their_masks = instance_rows(theirs, b)
        np.testing.assert_allclose(rows[:, :2], their_rows[:, :2], atol=1e-5)
        for k, row in enumerate(rows):
            same = [i for i, other in enumerate(their_rows)
                    if np.allclose(row, other, atol=1e-3)]
            if same:
                if masks is not None:
                    np.testing.assert_allclose(masks[k], their_masks[same[0]],
                                               atol=mask_atol)
                matched += 1
                continue
            tied = np.sum((np.abs(rows[:, 0] - row[0]) <= tie) & (rows[:, 1] == row[1]))
            assert tied >= 2, f"image {b}: untied detection {row} is not the reference's"
    return matched


def matched_instances(ours, theirs, b, top=8):
    """Every one of `ours`' first `top` detections of image b has one in
    `theirs` of the same class, IoU > 0.99 and score and mask within 1e-3."""
    count = min(top, int(ours["num_detections"][b]))
    assert count > 0
    for i in range(count):
        box = ours["detection_boxes"][b, i]
        found = False
        for j in range(int(theirs["num_detections"][b])):
            other = theirs["detection_boxes"][b, j]
            low, high = np.maximum(box[:2], other[:2]), np.minimum(box[2:], other[2:])
            inter = np.prod(np.maximum(high - low, 0))
            union = np.prod(box[2:] - box[:2]) + np.prod(other[2:] - other[:2]) - inter
            if (ours["detection_classes"][b, i] == theirs["detection_classes"][b, j]
                    and inter / union > 0.99
                    and abs(ours["detection_scores"][b, i] - theirs["detection_scores"][b, j])
                    < 1e-3
                    and np.abs(ours["detection_masks"][b, i]
                               - theirs["detection_masks"][b, j]).max() < 1e-3):
                found = True
                break
        assert found, f"image {b}: detection {i} {box} has no counterpart"


def assert_same_rows_in_any_order(ours, theirs, tolerance=1e-4):
    """Every row of `ours` [N, K] has one of `theirs` within `tolerance`
    (relative to 1 + |theirs|) and every row of `theirs` one of `ours`: for
    per-ROI outputs whose ROI order may differ where scores tie."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    distance = (np.abs(ours[:, None] - theirs[None]) / (1.0 + np.abs(theirs[None]))).max(-1)
    assert distance.min(1).max() < tolerance and distance.min(0).max() < tolerance, (
        f"worst unmatched row: {max(distance.min(1).max(), distance.min(0).max()):.2e}")


def two_stage_training_pass(ours, reference, rng):
    """One training forward pass of a two-stage detector and of its Model
    Garden twin on the same images and ground truth: 3 boxes an image (one
    padding row), made near the detector's own proposals so that many ROIs
    are foreground. Returns (ours' outputs, the reference's, the boxes)."""
    images = rng.uniform(-2, 2, (2, 128, 128, 3)).astype("float32")
    image_shape = np.array([[128, 128], [112, 96]], "float32")
    classes = np.array([[1, 3, -1], [2, 2, 1]], "int32")
    masks = (rng.uniform(size=(2, 3, 112, 112)) > 0.4).astype("float32")
    placeholder = np.tile(np.array([[[0, 0, 64, 64]]], "float32"), (2, 3, 1))
    proposals = np.asarray(ours(dict(images=images, image_shape=image_shape,
                                     boxes=placeholder, classes=classes, masks=masks),
                                training=True)["rois"])[:, :100]
    boxes = proposals[:, [0, 2, 4]] + rng.normal(0, 1.5, (2, 3, 4)).astype("float32")
    boxes[0, 2] = -1.0
    outputs = ours(dict(images=images, image_shape=image_shape, boxes=boxes,
                        classes=classes, masks=masks), training=True)
    theirs = reference(images, image_shape, gt_boxes=boxes, gt_classes=classes,
                       gt_masks=masks, training=True)
    return outputs, theirs, boxes


def read_manifest(path):
    """{variable name: shape} of a model-zoo manifest (`name d0,d1,...`
    lines, gzipped; tools/make_model_zoo_fixtures.py)."""
    import gzip

    with gzip.open(path, "rt") as f:
        rows = [line.split() for line in f if line.strip()]
    return {name: [int(d) for d in shape.split(",")] for name, shape in rows}


def assert_names_cover_exactly(model, theirs):
    """The model-zoo names of `model`'s variables are exactly the manifest
    `theirs`, shape for shape, and cover every weight of the model."""
    ours = {name: list(variable.shape)
            for name, variable in model_zoo_names(model).items()}
    assert sorted(set(ours) - set(theirs)) == []
    assert sorted(set(theirs) - set(ours)) == []
    assert {n: s for n, s in ours.items() if theirs[n] != s} == {}
    assert len(ours) == len(model.weights)


def model_garden_class_outputs(reference, images):
    """A Model Garden RetinaNet's raw class outputs by level ("3", ...), as
    its `call` computes them, without its detection generator (whose NMS
    loop runs op by op in eager mode: for 90 classes, most of a test)."""
    features = reference.backbone(images, training=False)
    if reference.decoder is not None:
        features = reference.decoder(features, training=False)
    return reference.head(features, training=False)[0]


def randomize_predictors(model, images, candidates=60):
    """For a tf-models-official RetinaNet: spreads the class scores over
    locations (logits ~ N(0, 4)), then sets the class bias so that about
    `candidates` scores in the batch pass the 0.05 threshold: NMS has real
    work, and no near-tie sits at the max_detections cut."""
    rng = np.random.default_rng(0)
    head = model.head
    layers = retinanet_head_layers(head)
    classifier = layers["class_predictor"]
    for weight in classifier.weights + layers["box_predictor"].weights:
        std = 0.05 if "kernel" in weight.name else 0.0
        weight.assign(rng.normal(0.0, std, weight.shape).astype("float32"))

    def logits():
        features = model.backbone(images, training=False)
        return np.concatenate([v.numpy().ravel() for v in
                               head(features, training=False)[0].values()])

    kernel = classifier.weights[-2]  # (pointwise) kernel; bias is last
    kernel.assign(kernel * (4.0 / logits().std()))
    cut = np.sort(logits())[-candidates]
    classifier.bias.assign(
        np.full(classifier.bias.shape, np.log(0.05 / 0.95) - cut + 1e-3, "float32"))


# --- round trips ------------------------------------------------------------

def assert_config_round_trip(layer_or_model):
    """from_config(get_config()) gives the same config again."""
    config = layer_or_model.get_config()
    restored = type(layer_or_model).from_config(config)
    assert restored.get_config() == config
    return restored


def assert_keras_save_load(model, inputs, folder):
    """`.keras` save -> load reproduces the outputs exactly."""
    path = os.path.join(folder, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    expected = model(inputs, training=False)
    received = loaded(inputs, training=False)
    for key in expected:
        np.testing.assert_allclose(received[key], expected[key], atol=1e-6)
    return loaded


# --- TFLite -----------------------------------------------------------------

def run_tflite(flatbuffer, image, xnnpack=True, threads=None):
    """A `.tflite`'s outputs by name (through its signature) for one image,
    and the input's details."""
    from ai_edge_litert import interpreter as litert

    interpreter = litert.Interpreter(
        model_content=flatbuffer, num_threads=threads, experimental_op_resolver_type=(
            litert.OpResolverType.AUTO if xnnpack
            else litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES))
    runner = interpreter.get_signature_runner("serving_default")
    (detail,) = runner.get_input_details().values()
    return runner(image=image[None].astype(detail["dtype"])), detail


# Runs a `.tflite` on XNNPACK in a child process (XNNPACK aborts the
# process on some files): model path, input .npy, output .npz.
XNNPACK_RUN = """
import sys, numpy as np
from ai_edge_litert import interpreter as litert
runner = litert.Interpreter(model_path=sys.argv[1], num_threads=2).get_signature_runner()
np.savez(sys.argv[3], **runner(image=np.load(sys.argv[2])[None].astype(np.uint8)))
"""


def run_on_xnnpack(flatbuffer, image, folder):
    """Outputs of a uint8-input `.tflite` run on XNNPACK in a child process."""
    model_path = os.path.join(folder, "xnnpack_model.tflite")
    with open(model_path, "wb") as f:
        f.write(flatbuffer)
    np.save(os.path.join(folder, "xnnpack_image.npy"), image)
    result = subprocess.run(
        [sys.executable, "-c", XNNPACK_RUN, model_path,
         os.path.join(folder, "xnnpack_image.npy"), os.path.join(folder, "xnnpack_out.npz")],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return dict(np.load(os.path.join(folder, "xnnpack_out.npz")))


# --- command lines ----------------------------------------------------------

def readme_commands():
    """The README's fenced command blocks, in order (the first two: the main
    job and the test command)."""
    with open(os.path.join(ROOT, "README.md")) as readme:
        return re.findall(r"^```\n(.*?)\n```", readme.read(), flags=re.S | re.M)


DEMO_CONFIG = os.path.join(ROOT, "configs", "retinanet_mobile_synthetic_demo.yaml")
# The shared uninterrupted training run of the tests (conftest's
# `trained_run`): steps, and a checkpoint every so many.
TRAINED_STEPS, TRAINED_EVERY = 12, 4


def train_command(data, model_dir, steps, every, extra=()):
    """`train.py` on synthetic data in `data`: the demo config shrunk to a
    128 px model with the short backbone (`SHORT_MOBILE_BLOCK_SPECS`) and a
    one-conv head, deterministic."""
    overrides = {
        "model.block_specs": json.dumps(SHORT_MOBILE_BLOCK_SPECS),
        "model.image_size": "[128,128]", "model.head_num_convs": 1,
        "model.head_num_filters": 8, "train_data.batch_size": 4,
        "eval_data.batch_size": 4, "trainer.train_steps": steps,
        "trainer.checkpoint_every": every, "trainer.eval_every": 0,
        "optimizer.boundaries": "[]", "optimizer.values": "[0.02]",
        "optimizer.warmup_steps": 4, "trainer.deterministic": "true",
    }
    for split in ("train", "val"):
        key = "train_data" if split == "train" else "eval_data"
        overrides[f"{key}.annotations"] = os.path.join(data, split, "annotations.json")
        overrides[f"{key}.image_dir"] = os.path.join(data, split, "images")
    command = [sys.executable, os.path.join(ROOT, "train.py"), "--config", DEMO_CONFIG,
               "--model_dir", model_dir, "--verbose", "0"]
    for key, value in overrides.items():
        command += ["--set", f"{key}={value}"]
    return command + list(extra)


def run_command(command, **kwargs):
    """Runs a CLI from the checkout; asserts it succeeds; returns the result."""
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                            timeout=900, **kwargs)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def final_weights(model_dir):
    """{variable name: value} of a train.py folder's latest checkpoint (model
    and optimizer variables, keyed by path)."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(
        tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints")))
    return {name: reader.get_tensor(name)
            for name in reader.get_variable_to_shape_map() if "save_counter" not in name}


def assert_ends_as_the_uninterrupted_run(straight, resumed, steps, every):
    """The resumed run's folder holds the uninterrupted run's final weights,
    bit for bit, and its log one entry per checkpoint, none twice."""
    expected, received = final_weights(straight), final_weights(resumed)
    assert expected.keys() == received.keys() and len(expected) > 100
    for name in expected:
        np.testing.assert_array_equal(received[name], expected[name], err_msg=name)
    log = json.load(open(os.path.join(resumed, "training_log.json")))
    assert [e["step"] for e in log] == list(range(every, steps + 1, every))


def profiler_macs(forward, shape):
    """Conv / matmul multiply-adds of `forward`'s graph, from TensorFlow's
    profiler (an oracle independent of `spinenet_tf.utils.model_complexity`)."""
    import tensorflow as tf

    function = tf.function(forward)
    frozen = convert_variables_to_constants_v2(
        function.get_concrete_function(tf.TensorSpec((1,) + tuple(shape), tf.float32)))
    builder = tf.compat.v1.profiler.ProfileOptionBuilder
    options = builder(builder.float_operation()).with_empty_output().build()
    options["account_type_regexes"] = ["Conv2D", "DepthwiseConv2dNative", "MatMul"]
    flops = tf.compat.v1.profiler.profile(graph=frozen.graph, options=options)
    return flops.total_float_ops / 2  # the profiler counts a multiply-add as 2
