"""Reading a TF1 name-based checkpoint into Keras variables, accounting for
every variable in the file.

A TF1 checkpoint (`tf.train.Saver`) is a map from variable names to
tensors; `tf.train.load_checkpoint` reads it without the code that wrote
it. `load_named_variables` assigns the tensors named by a mapping
(`{name in the file: keras variable}`) and refuses a file that does not
fit: a mapped name the file lacks, a tensor of another shape, or a tensor in
the file that is neither mapped nor skipped by a named rule (`SKIP_RULES`:
what training leaves beside the weights). Each error names the file and
the variables.
"""

import os
import re

import numpy as np
import tensorflow as tf

from spinenet_tf.utils.checkpoint_errors import CheckpointMismatchError, CheckpointReadError

# What a training run writes beside the network's weights, by rule.
SKIP_RULES = (
    ("global step", re.compile(r"^global_step$")),
    ("optimizer slot", re.compile(
        r"/(Momentum|RMSProp(_1)?|Adam(_1)?|Adagrad|Ftrl(_1)?|LARS\w*)$")),
    ("optimizer state", re.compile(r"^(beta1_power|beta2_power)(_\d+)?$")),
    ("moving average", re.compile(r"/ExponentialMovingAverage$")),
)
# The key TF2 object-based checkpoints (`tf.train.Checkpoint`) all have.
OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
SHOWN = 5


def _listing(names, shown=SHOWN):
    names = sorted(names)
    text = ", ".join(names[:shown])
    return text + (f" and {len(names) - shown} more" if len(names) > shown else "")


def skip_rule(name, rules=SKIP_RULES):
    """The name of the rule of `rules` that skips variable `name`, or None."""
    for rule, pattern in rules:
        if pattern.search(name):
            return rule
    return None


def open_tf1_checkpoint(prefix, object_based=False):
    """A `CheckpointReader` for a TF1 checkpoint at `prefix`.

    Raises `CheckpointMismatchError` for a TF2 object-based file (its
    variables are named by object paths, not by TF1 scopes) and
    `spinenet_tf.utils.checkpoint_errors.CheckpointReadError` for a file that
    cannot be read.
    """
    try:
        reader = tf.train.load_checkpoint(prefix)
    except (tf.errors.OpError, ValueError) as error:
        raise CheckpointReadError(
            f"Checkpoint {prefix} cannot be read: {error}") from None
    if not object_based and OBJECT_GRAPH_KEY in reader.get_variable_to_shape_map():
        raise CheckpointMismatchError(
            f"{prefix} is a TF2 object-based checkpoint (tf.train.Checkpoint, "
            "as Model Garden writes them), not a TF1 model-zoo checkpoint; "
            "load it with spinenet_tf.pretrained.load_model_garden_checkpoint.")
    return reader


def load_named_variables(prefix, names, description, skip_rules=SKIP_RULES,
                         object_based=False):
    """Assigns every tensor of the checkpoint `prefix` named in `names`.

    Args:
        prefix: the checkpoint prefix (`.../model.ckpt`).
        names: `{name in the file: keras variable}`.
        description: what the file is loaded into, for error messages
            (e.g. "RetinaNet SpineNet-49").
        skip_rules: `(rule name, regex)` of the tensors that may be left.
        object_based: the file is a TF2 object-based checkpoint, read by
            its keys (otherwise such a file is refused as not TF1).

    Returns:
        `{rule: [skipped names]}`: the file's other tensors, by the rule that
        skipped them.

    Raises:
        CheckpointMismatchError: names missing from the file, unused
            tensors, or shapes that differ; all are checked before any
            variable is assigned, so a refused file changes nothing.
    """
    reader = open_tf1_checkpoint(prefix, object_based)
    shapes = reader.get_variable_to_shape_map()
    where = f"{os.fspath(prefix)} does not fit {description}"
    missing = [name for name in names if name not in shapes]
    skipped = {}
    unused = []
    for name in shapes:
        if name in names:
            continue
        rule = skip_rule(name, skip_rules)
        if rule is None:
            unused.append(name)
        else:
            skipped.setdefault(rule, []).append(name)
    if missing or unused:
        parts = []
        if missing:
            parts.append(f"{len(missing)} of the model's {len(names)} variables "
                         f"are not in the file ({_listing(missing)})")
        if unused:
            parts.append(f"{len(unused)} variables of the file are not used "
                         f"({_listing(unused)})")
        raise CheckpointMismatchError(
            f"{where}: {'; '.join(parts)}. Is it a checkpoint of another "
            "variant or model family?")
    reshaped = [f"{name} {list(shapes[name])} (model: {list(variable.shape)})"
                for name, variable in names.items()
                if list(shapes[name]) != list(variable.shape)]
    if reshaped:
        raise CheckpointMismatchError(
            f"{where}: {len(reshaped)} variables have another shape: "
            f"{_listing(reshaped, 3)}.")
    values = {}
    for name in names:
        try:
            values[name] = reader.get_tensor(name)
        except Exception as error:  # a truncated data file
            raise CheckpointReadError(
                f"Checkpoint {prefix} cannot be read: its data is truncated or "
                f"corrupt ({type(error).__name__} reading {name!r}: "
                f"{str(error).splitlines()[0]})") from None
    for name, variable in names.items():
        variable.assign(np.asarray(values[name], dtype=variable.dtype))
    return skipped
