"""RetinaNet's variable names in the published files: the TPU model zoo's
TF1 names and Model Garden's TF2 keys.

* TF1 (`retinanet/class_net/`, `retinanet/box_net/`): `class-{k}` (the
  conv shared by the levels), `class-{k}-{level}` (its batch norm at
  `level`), `class-predict`; likewise `box-...`; the backbone's are
  `backbones.model_zoo_names`'.
* Model Garden: the head's keys recorded with Model Garden's own code
  (`model_garden_head_keys.json.gz`, written by
  `tools/make_model_garden_keys.py`) beside the backbone's
  (`backbones.model_garden_keys`).
"""

import functools
import gzip
import json
import os

from spinenet_tf.backbones.model_garden_keys import VARIABLE_SUFFIX, model_garden_backbone_names
from spinenet_tf.backbones.model_zoo_names import spinenet_names
from spinenet_tf.backbones.variants import variant_of
from spinenet_tf.utils.tf1_variable_names import add_batch_norm_names, add_head_conv_names

HEAD_KEYS_FILE = os.path.join(os.path.dirname(__file__), "model_garden_head_keys.json.gz")


def retinanet_head_names(head, names=None):
    """`{model-zoo name: variable}` of a `RetinaNetHead`."""
    if head.form.folds_batch_norm:
        raise ValueError(
            "Load model-zoo checkpoints into the trainable form of the "
            f"RetinaNet head (its form is {head.form.name!r}), then fold it.")
    names = {} if names is None else names
    for prefix in ("class", "box"):
        scope = f"retinanet/{prefix}_net"
        for k, conv in enumerate(getattr(head, f"{prefix}_convs")):
            add_head_conv_names(names, f"{scope}/{prefix}-{k}", conv)
        for level in head.levels:
            for k, norm in enumerate(getattr(head, f"{prefix}_norms")[level]):
                add_batch_norm_names(names, f"{scope}/{prefix}-{k}-{level[1:]}", norm)
        predictor = head.class_predictor if prefix == "class" else head.box_predictor
        add_head_conv_names(names, f"{scope}/{prefix}-predict", predictor)
    return names


def model_zoo_names(model):
    """`{model-zoo name: variable}` of a `RetinaNet` (backbone and head)."""
    return retinanet_head_names(model.head, spinenet_names(model.backbone))


@functools.lru_cache(maxsize=1)
def head_key_table():
    """{variant name: {our head variable path: Model Garden key}}."""
    with gzip.open(HEAD_KEYS_FILE, "rt") as f:
        return json.load(f)


def model_garden_names(model, roots):
    """`{key in the file: variable}` of a RetinaNet of a named variant with
    its paper head, backbone under `roots["backbone"]`, head under
    `roots["head"]`."""
    names = model_garden_backbone_names(model.backbone, roots["backbone"])
    variant = variant_of(model.backbone).name
    table = head_key_table().get(variant)
    if table is None:
        raise ValueError(f"No Model Garden key table for a RetinaNet on {variant}.")
    for variable in model.head.weights:
        key = table.get(variable.path)
        if key is None:
            raise ValueError(
                f"{model.head.name} has a variable {variable.path!r} that Model Garden's "
                f"RetinaNet on {variant} does not (the key table covers the paper's head; "
                "build the model with it).")
        names[f"{roots['head']}{key}{VARIABLE_SUFFIX}"] = variable
    return names
