"""Reading Model Garden's TF2 SpineNet checkpoints without tf-models-official.

Model Garden's trainer writes `Checkpoint(model=..., optimizer=...)`
(variables under `model/_backbone/`, `model/_head/`, ...), module
checkpoints `Checkpoint(backbone=..., head=...)` and backbone checkpoints
`Checkpoint(backbone=...)`. Each variable's key is its object path, which
the key tables recorded with Model Garden's own code give for every named
variant (`backbones.model_garden_keys`) and each family's heads (the
family's `model_garden_names`). The file is read through `tf1_checkpoint`'s
accounting: every tensor is loaded or skipped by a named rule. Where no key
table fits (a custom architecture), `load_model_garden_checkpoint` falls
back to tf-models-official's twin of the model (the `garden` extra).
"""

import re

import tensorflow as tf

from spinenet_tf import registry
from spinenet_tf.backbones.model_garden_keys import model_garden_backbone_names
from spinenet_tf.backbones.model_garden_twin import (
    load_model_garden_backbone_checkpoint,
    require_model_garden,
)
from spinenet_tf.backbones.scale_permuted_backbone import ScalePermutedBackbone
from spinenet_tf.pretrained.tf1_checkpoint import load_named_variables
from spinenet_tf.utils.checkpoint_errors import CheckpointMismatchError
from spinenet_tf.utils.checkpoint_files import resolve_checkpoint_prefix

# What a Model Garden checkpoint holds beside the network.
SKIP_RULES = (
    ("optimizer state", re.compile(r"^optimizer/")),
    ("step counter", re.compile(r"^(save_counter|global_step)/")),
    ("object graph", re.compile(r"^_CHECKPOINTABLE_OBJECT_GRAPH$")),
)
# Where each part of a model sits in each kind of checkpoint.
LAYOUTS = {
    "trainer": {"backbone": "model/_backbone/", "head": "model/_head/"},
    "module": {"backbone": "backbone/", "head": "head/"},
}


def model_garden_names(model, roots):
    """`{key in the file: variable}` of `model` (a named variant's backbone,
    or a family model whose family reads Model Garden files), its parts
    under `roots` ({"backbone": "model/_backbone/", ...})."""
    if isinstance(model, ScalePermutedBackbone):
        return model_garden_backbone_names(model, roots["backbone"])
    family = registry.family_of(model)
    if family.model_garden_names is None:
        raise ValueError(
            f"Model Garden checkpoints load into a backbone or a model of the families "
            f"{sorted(f.name for f in registry.families().values() if f.model_garden_names)}; "
            f"received a {family.name} model ({model.name!r}).")
    return family.model_garden_names(model, roots)


def load_model_garden_checkpoint_by_keys(model, checkpoint_path):
    """Loads a Model Garden TF2 checkpoint into `model` by its keys.

    Returns `{rule: [skipped keys]}`. Raises `CheckpointMismatchError`
    naming what does not fit.
    """
    prefix = resolve_checkpoint_prefix(checkpoint_path)
    present = set(tf.train.load_checkpoint(prefix).get_variable_to_shape_map())
    kind = "trainer" if any(k.startswith("model/_backbone/") for k in present) else "module"
    if not any(k.startswith(LAYOUTS[kind]["backbone"]) for k in present):
        raise CheckpointMismatchError(
            f"{prefix} is not a Model Garden SpineNet checkpoint: no variable under "
            f"'model/_backbone/' or 'backbone/'.")
    names = model_garden_names(model, LAYOUTS[kind])
    return load_named_variables(prefix, names, f"{model.name}", skip_rules=SKIP_RULES,
                                object_based=True)


def load_model_garden_checkpoint(model, checkpoint_path):
    """Loads a Model Garden checkpoint into `model` (a family model whose
    family reads them, or a SpineNet / SpineNet-Mobile backbone).

    The file is read by its keys (no tf-models-official needed) when the
    model has a named variant's architecture with its family's key table;
    otherwise, with the `garden` extra installed, through tf-models-official's
    twin of the model. Returns `model`.
    """
    try:
        load_model_garden_checkpoint_by_keys(model, checkpoint_path)
        return model
    except ValueError as error:  # CheckpointMismatchError included
        try:
            require_model_garden()
        except ImportError:
            raise error from None
    if isinstance(model, ScalePermutedBackbone):
        return load_model_garden_backbone_checkpoint(model, checkpoint_path)
    loader = registry.family_of(model).model_garden_twin_loader
    if loader is None:
        raise ValueError(f"{model.name}: its family has no Model Garden twin to load "
                         "a checkpoint through.")
    return loader(model, checkpoint_path)
