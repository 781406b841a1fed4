"""Reading Model Garden's TF2 SpineNet checkpoints without tf-models-official.

A TF2 object-based checkpoint names each variable by its object path; for
Model Garden's SpineNet backbones the path numbers the layers in the order
of the tf_keras functional graph (`layer_with_weights-12/...`), which only
Model Garden's code computes. `tools/make_model_garden_keys.py` recorded,
with that code and the twin-model transfer (the parity tests' oracle), the
key of every variable of each named RetinaNet (the recipe's head). With that
table this module reads Model Garden's trainer checkpoints
(`Checkpoint(model=..., optimizer=...)`), module checkpoints
(`Checkpoint(backbone=..., head=...)`) and backbone checkpoints
(`Checkpoint(backbone=...)`) by name, through `tf1_checkpoint`'s
accounting: every tensor is loaded or skipped by a named rule.
"""

import functools
import gzip
import json
import os
import re

KEYS_FILE = os.path.join(os.path.dirname(__file__), "model_garden_keys.json.gz")
SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
# What a Model Garden checkpoint holds beside the network.
SKIP_RULES = (
    ("optimizer state", re.compile(r"^optimizer/")),
    ("step counter", re.compile(r"^(save_counter|global_step)/")),
    ("object graph", re.compile(r"^_CHECKPOINTABLE_OBJECT_GRAPH$")),
)
# Where the backbone and head sit in each kind of checkpoint.
LAYOUTS = {
    "trainer": ("model/_backbone/", "model/_head/"),
    "module": ("backbone/", "head/"),
}


@functools.lru_cache(maxsize=1)
def key_tables():
    """{variant: {"backbone": {path: key}, "head": {path: key}}}."""
    with gzip.open(KEYS_FILE, "rt") as f:
        return json.load(f)


def _variant_of(backbone):
    from spinenet_tf.backbones.variants import VARIANTS

    for name, variant in VARIANTS.items():
        if (variant.builder is type(backbone)
                and variant.model_id.lower() == str(backbone.model_id).lower()):
            return name
    raise ValueError(f"No named variant for backbone {backbone.name!r}.")


def model_garden_names(model, prefix_kind):
    """`{key in the file: variable}` of `model` (a RetinaNet or a backbone)."""
    from spinenet_tf.backbones.scale_permuted_backbone import ScalePermutedBackbone
    from spinenet_tf.retinanet.retinanet import RetinaNet

    if isinstance(model, RetinaNet):
        parts = (("backbone", model.backbone), ("head", model.head))
    elif isinstance(model, ScalePermutedBackbone):
        parts = (("backbone", model),)
    else:
        raise ValueError(
            "Model Garden checkpoints load into a RetinaNet or a SpineNet / "
            f"SpineNet-Mobile backbone; received a {type(model).__name__} "
            f"({model.name!r}).")
    variant = _variant_of(parts[0][1])
    table = key_tables().get(variant)
    if table is None:
        raise ValueError(f"No Model Garden key table for {variant}.")
    roots = dict(zip(("backbone", "head"), LAYOUTS[prefix_kind]))
    names = {}
    for part, module in parts:
        for variable in module.weights:
            key = table[part].get(variable.path)
            if key is None:
                raise ValueError(
                    f"{module.name} has a variable {variable.path!r} that Model "
                    f"Garden's {variant} does not (the key table covers the "
                    "recipe's architecture; build the model with it).")
            names[f"{roots[part]}{key}{SUFFIX}"] = variable
    return names


def load_model_garden_checkpoint_by_keys(model, checkpoint_path):
    """Loads a Model Garden TF2 checkpoint into `model` without Model Garden.

    Returns `{rule: [skipped keys]}`. Raises `CheckpointMismatchError`
    naming what does not fit.
    """
    import tensorflow as tf

    from spinenet_tf.convert.model_garden import resolve_checkpoint_prefix
    from spinenet_tf.convert.tf1_checkpoint import load_named_variables
    from spinenet_tf.training.checkpoints import CheckpointMismatchError

    prefix = resolve_checkpoint_prefix(checkpoint_path)
    present = set(tf.train.load_checkpoint(prefix).get_variable_to_shape_map())
    kind = "trainer" if any(k.startswith("model/_backbone/") for k in present) else "module"
    if not any(k.startswith(LAYOUTS[kind][0]) for k in present):
        raise CheckpointMismatchError(
            f"{prefix} is not a Model Garden SpineNet checkpoint: no variable under "
            f"'model/_backbone/' or 'backbone/'.")
    names = model_garden_names(model, kind)
    return load_named_variables(prefix, names, f"{model.name}", skip_rules=SKIP_RULES,
                                object_based=True)
