"""Writes the checkpoint keys of Model Garden's SpineNet RetinaNets.

A TF2 checkpoint that Model Garden's trainer writes (`tf.train.Checkpoint(
model=..., optimizer=...)`) names each variable by its object path, e.g.
`model/_backbone/layer_with_weights-12/_conv0/kernel/.ATTRIBUTES/
VARIABLE_VALUE`: the backbone's layers are numbered in the order of the
tf_keras functional graph, which only Model Garden's own code computes. This
script builds each named RetinaNet (the recipe's head, 91 classes) and its
Model Garden twin (`models.retinanet.build_model_garden_retinanet`), gives every
twin variable a distinct value, transfers the weights (the parity tests'
oracle), writes the twin's checkpoint and records, for every one of our
variables, the key whose tensor it received. The table
(`spinenet_tf/backbones/model_garden_keys.json.gz` and the RetinaNet head's
`spinenet_tf/models/retinanet/model_garden_head_keys.json.gz`) lets
`spinenet_tf.pretrained` read such files without tf-models-official.

Usage (needs the garden extra): python tools/make_model_garden_keys.py
"""

import gzip
import json
import os
import sys
import tempfile

import numpy as np

PACKAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "spinenet_tf")
# The backbone's keys (every family's SpineNet) and the RetinaNet head's.
OUTPUTS = {"backbone": os.path.join(PACKAGE, "backbones", "model_garden_keys.json.gz"),
           "head": os.path.join(PACKAGE, "models", "retinanet",
                                "model_garden_head_keys.json.gz")}
SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def variant_keys(name):
    """{"backbone": {our path: key under model/_backbone/}, "head": {...}}."""
    import tensorflow as tf

    import spinenet_tf
    from spinenet_tf.models.retinanet import (
        build_model_garden_retinanet, transfer_model_garden_retinanet_weights)
    from spinenet_tf.models.retinanet.variant_settings import variant_settings

    size = 2 ** max(s.level for s in variant_settings(name).variant.build(
        128).block_specs)
    model = spinenet_tf.RetinaNet.from_variant(name, image_size=max(size, 128))
    reference = build_model_garden_retinanet(model)
    rng = np.random.default_rng(0)
    for variable in reference.weights:
        variable.assign(rng.normal(size=variable.shape).astype("float32"))
    transfer_model_garden_retinanet_weights(reference, model)
    with tempfile.TemporaryDirectory() as folder:
        prefix = tf.train.Checkpoint(model=reference).write(os.path.join(folder, "ckpt"))
        reader = tf.train.load_checkpoint(prefix)
        by_value = {}
        for key in reader.get_variable_to_shape_map():
            if key.endswith(SUFFIX):
                by_value[reader.get_tensor(key).tobytes()] = key[: -len(SUFFIX)]
    table = {"backbone": {}, "head": {}}
    for part, module, root in (("backbone", model.backbone, "model/_backbone/"),
                               ("head", model.head, "model/_head/")):
        for variable in module.weights:
            key = by_value[np.asarray(variable.numpy()).tobytes()]
            if not key.startswith(root):
                raise SystemExit(f"{name}: {variable.path} came from {key}.")
            table[part][variable.path] = key[len(root):]
    if len(set(table["backbone"].values()) | set(table["head"].values())) != len(
            model.weights):
        raise SystemExit(f"{name}: keys are not one per variable.")
    return table


def main():
    from spinenet_tf.models.retinanet.variant_settings import VARIANT_SETTINGS

    tables = {}
    for name in VARIANT_SETTINGS:
        tables[name] = variant_keys(name)
        print(f"{name}: {len(tables[name]['backbone'])} backbone and "
              f"{len(tables[name]['head'])} head variables", flush=True)
    for part, path in OUTPUTS.items():
        with gzip.GzipFile(path, "wb", mtime=0) as f:
            f.write(json.dumps({name: table[part] for name, table in tables.items()},
                               sort_keys=True).encode())
        print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
