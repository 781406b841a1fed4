"""Writes the model-zoo test data by running tensorflow/tpu's own code.

The TPU model zoo's SpineNet checkpoints were written by the TF1 code of
tensorflow/tpu (`models/official/detection`). This script runs that code's
architecture functions in a TF1 graph (`tf.compat.v1`, with the legacy
Keras of the `tf_keras` package behind `tf.compat.v1.layers`) and writes,
under `--output_dir`:

* for scaled-down configurations (`SMALL_MODELS`): `<name>/model.ckpt.*`,
  a checkpoint with random, non-trivial weights and batch-norm statistics
  (and Momentum slots and the global step, as a training run leaves), and
  `<name>/outputs.npz`, the original code's outputs on a fixed input at a
  non-square, even size, where the padding conventions differ;
  `<name>/settings.json` records the settings given to the TPU code;
* for every full-size catalog entry: `manifests/<entry>.txt`, the
  variable names and shapes the original code creates (no weights), as
  gzipped text.

Usage (the checkout from `git clone https://github.com/tensorflow/tpu`):

    TF_USE_LEGACY_KERAS=1 python tools/make_model_zoo_fixtures.py \
        --tpu_dir ../tpu --output_dir tests/convert/model_zoo

Needs `pip install tf_keras` (a dependency of the `garden` extra). The
tests read the files; they never run this script.
"""

import argparse
import gzip
import json
import os
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # before TensorFlow is imported

import numpy as np  # noqa: E402

SMALL_MODELS = {
    # SpineNet-49's block specs at a tenth of the width, relu.
    "retinanet_spinenet_relu": dict(
        family="retinanet", activation="relu", image_size=(128, 256),
        spinenet=dict(endpoints_num_filters=16, filter_size_scale=0.1,
                      resample_alpha=0.5, block_repeats=1),
        head=dict(num_classes=3, num_convs=2, num_filters=16),
        anchors=dict(num_scales=3, aspect_ratios=[1.0, 2.0, 0.5]),
        batch_norm=dict(momentum=0.997, epsilon=1e-4)),
    # The 143 / 190 shape (alpha 1, repeated blocks), swish.
    "retinanet_spinenet_swish": dict(
        family="retinanet", activation="swish", image_size=(256, 128),
        spinenet=dict(endpoints_num_filters=12, filter_size_scale=0.08,
                      resample_alpha=1.0, block_repeats=2),
        head=dict(num_classes=4, num_convs=1, num_filters=12),
        anchors=dict(num_scales=2, aspect_ratios=[1.0, 2.0, 0.5]),
        batch_norm=dict(momentum=0.997, epsilon=1e-4)),
    # The ImageNet classifiers' head: every level aggregated.
    "classifier_spinenet_swish": dict(
        family="classifier", activation="swish", image_size=(128, 256),
        spinenet=dict(endpoints_num_filters=16, filter_size_scale=0.1,
                      resample_alpha=0.5, block_repeats=1),
        head=dict(num_classes=5, aggregation="all"),
        batch_norm=dict(momentum=0.9, epsilon=1e-5)),
    # SpineNet-Mobile (MBConv blocks, squeeze-excitation) with the separable
    # head of its recipe.
    "retinanet_spinenet_mobile": dict(
        family="retinanet", backbone="spinenet_mbconv", activation="swish",
        image_size=(128, 256),
        spinenet=dict(endpoints_num_filters=16, filter_size_scale=0.25, block_repeats=1),
        head=dict(num_classes=3, num_convs=2, num_filters=16, use_separable_conv=True),
        anchors=dict(num_scales=3, aspect_ratios=[1.0, 2.0, 0.5]),
        batch_norm=dict(momentum=0.997, epsilon=1e-4)),
}
MANIFEST_IMAGE_SIZE = (128, 128)  # variable shapes do not depend on it


def _import_tpu(tpu_dir):
    root = os.path.join(tpu_dir, "models", "official", "detection")
    if not os.path.isdir(os.path.join(root, "modeling", "architecture")):
        raise SystemExit(f"--tpu_dir {tpu_dir!r} is not a tensorflow/tpu checkout "
                         f"({root}/modeling/architecture is missing).")
    sys.path.insert(0, root)
    import tensorflow.compat.v1 as tf
    tf.disable_eager_execution()
    from modeling.architecture import heads, nn_ops, spinenet, spinenet_mbconv
    return tf, spinenet, heads, nn_ops, spinenet_mbconv


def _build(tpu, settings, images):
    """The TPU code's outputs for `settings` ({name: tensor})."""
    tf, spinenet, heads, nn_ops, spinenet_mbconv = tpu
    norm = nn_ops.BatchNormActivation(activation=settings["activation"],
                                      **settings["batch_norm"])
    builder = (spinenet_mbconv.SpineNetMBConv
               if settings.get("backbone") == "spinenet_mbconv" else spinenet.SpineNet)
    backbone = builder(activation=settings["activation"],
                       batch_norm_activation=norm, **settings["spinenet"])
    features = backbone(images, is_training=False)
    if settings["family"] == "classifier":
        head = heads.ClassificationHead(batch_norm_activation=norm, **settings["head"])
        outputs = {f"P{level}": x for level, x in features.items()}
        outputs["logits"] = head(features, is_training=False)
        return outputs
    anchors = settings["anchors"]
    head = heads.RetinanetHead(
        3, 7, anchors_per_location=anchors["num_scales"] * len(anchors["aspect_ratios"]),
        activation=settings["activation"], batch_norm_activation=norm,
        **settings["head"])
    class_outputs, box_outputs = head(features, is_training=False)
    outputs = {f"P{level}": x for level, x in features.items()}
    outputs.update({f"class_P{level}": x for level, x in class_outputs.items()})
    outputs.update({f"box_P{level}": x for level, x in box_outputs.items()})
    return outputs


def _randomise(tf, session, rng):
    """Non-trivial values for every variable the default initialisers make
    trivial: batch-norm statistics and affine parameters, biases."""
    for variable in tf.global_variables():
        name = variable.op.name
        shape = variable.shape.as_list()
        if name.endswith(("gamma", "moving_variance")):
            value = rng.uniform(0.5, 1.5, shape)
        elif name.endswith(("beta", "moving_mean", "bias")):
            value = rng.normal(0.0, 0.2, shape)
        elif name.endswith(("predict/kernel", "dense/kernel")):
            # N(0, 1e-5) / N(0, 0.01) would leave the outputs at their bias.
            value = rng.normal(0.0, 0.05, shape)
        else:
            continue
        variable.load(value.astype(np.float32), session)


def write_small_model(tpu, name, settings, output_dir, seed):
    tf = tpu[0]
    folder = os.path.join(output_dir, name)
    os.makedirs(folder, exist_ok=True)
    height, width = settings["image_size"]
    rng = np.random.default_rng(seed)
    image = rng.normal(0.0, 1.0, (1, height, width, 3)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(seed)
        images = tf.placeholder(tf.float32, image.shape, name="images")
        outputs = _build(tpu, settings, images)
        loss = tf.add_n([tf.reduce_mean(x) for x in outputs.values()])
        # A training run's leftovers (a slot per variable in the real files;
        # on a few here, to keep the files small).
        tf.train.MomentumOptimizer(0.01, 0.9).minimize(
            loss, global_step=tf.train.get_or_create_global_step(),
            var_list=tf.trainable_variables()[:4])
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            _randomise(tf, session, rng)
            values = session.run(outputs, {images: image})
            tf.train.Saver().save(session, os.path.join(folder, "model.ckpt"),
                                  write_meta_graph=False, write_state=False)
    np.savez_compressed(os.path.join(folder, "outputs.npz"), image=image, **values)
    with open(os.path.join(folder, "settings.json"), "w") as f:
        json.dump(settings, f, indent=1)
    print(f"wrote {folder}: {len(values)} outputs")


def _load_catalog():
    """`spinenet_tf/pretrained/catalog.py`, read without importing the
    package (which would bring in Keras 3 beside the legacy Keras)."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                        "spinenet_tf", "pretrained", "catalog.py")
    spec = importlib.util.spec_from_file_location("catalog", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def entry_settings(tpu, entry):
    """The TPU code's settings for a full-size catalog entry."""
    mobile = entry.variant.startswith("spinenet-mobile")
    module = tpu[4] if mobile else tpu[1]
    model_id = entry.variant.split("-")[-1].upper()
    scaling = dict(module.SCALING_MAP[model_id])
    if entry.endpoints_num_filters is not None:
        scaling["endpoints_num_filters"] = entry.endpoints_num_filters
    settings = dict(family=entry.family, activation=entry.activation,
                    backbone="spinenet_mbconv" if mobile else "spinenet",
                    image_size=MANIFEST_IMAGE_SIZE, spinenet=scaling,
                    batch_norm=dict(momentum=entry.norm_momentum,
                                    epsilon=entry.norm_epsilon))
    if entry.family == "classifier":
        settings["head"] = dict(num_classes=entry.num_classes,
                                aggregation=entry.aggregation)
    else:
        settings["head"] = dict(num_classes=entry.num_classes,
                                num_convs=entry.head_num_convs or 4,
                                num_filters=entry.head_num_filters or 256,
                                use_separable_conv=mobile)
        settings["anchors"] = dict(num_scales=3, aspect_ratios=[1.0, 2.0, 0.5])
    return settings


def write_manifest(tpu, entry, folder):
    """`<entry>.txt.gz`: 'name shape' of every variable the TPU code creates."""
    tf = tpu[0]
    settings = entry_settings(tpu, entry)
    graph = tf.Graph()
    with graph.as_default():
        images = tf.placeholder(tf.float32, (1, *settings["image_size"], 3))
        _build(tpu, settings, images)
        lines = [f"{v.op.name} {','.join(str(d) for d in v.shape.as_list())}"
                 for v in tf.global_variables()]
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{entry.name}.txt.gz")
    with gzip.GzipFile(path, "wb", mtime=0) as f:  # the same bytes every run
        f.write(("\n".join(lines) + "\n").encode())
    print(f"wrote {path}: {len(lines)} variables")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tpu_dir", required=True,
                        help="a checkout of github.com/tensorflow/tpu")
    parser.add_argument("--output_dir", default="tests/convert/model_zoo")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", nargs="*", choices=sorted(SMALL_MODELS),
                        help="write only these scaled-down models (no manifests)")
    args = parser.parse_args(argv)
    tpu = _import_tpu(args.tpu_dir)
    for index, (name, settings) in enumerate(SMALL_MODELS.items()):
        if args.only is None or name in args.only:  # the seed stays the model's
            write_small_model(tpu, name, settings, args.output_dir, args.seed + index)
    if args.only is not None:
        return
    catalog = _load_catalog()
    for entry in catalog.ENTRIES:
        if entry.source == catalog.TPU_MODEL_ZOO and entry.loadable:
            write_manifest(tpu, entry, os.path.join(args.output_dir, "manifests"))


if __name__ == "__main__":
    main()
