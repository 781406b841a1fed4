"""Weights of one model into another of its family (or of another family
on the same backbone), by variable path and named part: what fine-tuning
onto other classes, backbone-only starts and `from_preset(num_classes=N)`
do.

A family model names its parts (`parts()`: the backbone and each head) and
the layers whose shapes follow the class count (`class_specific_layers()`).
`transfer_weights` takes the values of the chosen parts from a mapping of
variable paths to arrays: a variable of a class-specific layer whose shape
differs keeps its fresh initial value (the prior-probability bias of
RetinaNet's classifier, say), and is listed; any other variable missing or
of another shape is an error naming it, raised before anything is assigned.
"""

import dataclasses

import numpy as np

from spinenet_tf.utils.checkpoint_errors import CheckpointMismatchError
from spinenet_tf.utils.variable_paths import variables_by_path

SHOWN = 5


@dataclasses.dataclass
class TransferReport:
    """What `transfer_weights` did: the source, the parts taken, how many
    variables were loaded and which were re-initialised."""

    source: str
    parts: list
    loaded: int
    reinitialised: list

    def line(self):
        """One line for the console."""
        text = (f"Initialised {', '.join(self.parts)} from {self.source}: {self.loaded} "
                "variables loaded")
        if self.reinitialised:
            text += (f"; {len(self.reinitialised)} re-initialised (another class count): "
                     + ", ".join(self.reinitialised))
        return text


def _listing(names, shown=SHOWN):
    names = sorted(names)
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more"
                                       if len(names) > shown else "")


def resolve_parts(model, parts):
    """The part names `parts` ("all", "backbone" or a list) means for
    `model`; an error listing the model's parts for an unknown one."""
    available = list(model.parts())
    if parts == "all":
        return available
    names = [parts] if isinstance(parts, str) else list(parts)
    unknown = [name for name in names if name not in available]
    if unknown:
        raise ValueError(f"{model.name} has no part(s) {unknown}; its parts are {available} "
                         "(or \"all\").")
    return names


def part_weight_paths(model, parts):
    """{path: variable} of the weights (not seed states) of `parts` of `model`."""
    by_id = {id(variable): path for path, variable in variables_by_path(model).items()}
    layers = model.parts()
    selected = {}
    for name in parts:
        for variable in layers[name].weights:
            selected[by_id[id(variable)]] = variable
    return selected


def transfer_weights(values, model, parts="all", source="the source"):
    """Assigns `values` ({variable path: array}) to the `parts` of `model`.

    Returns a `TransferReport`. Raises `CheckpointMismatchError` naming the
    variables missing from `values` or of another shape outside the
    class-specific layers; nothing is assigned then.
    """
    names = resolve_parts(model, parts)
    targets = part_weight_paths(model, names)
    class_specific = {id(variable) for layer in model.class_specific_layers()
                      for variable in layer.weights}
    missing, reshaped, reinitialised, assignments = [], [], [], []
    for path, variable in targets.items():
        if path not in values:
            missing.append(path)
            continue
        value = np.asarray(values[path])
        if tuple(value.shape) == tuple(variable.shape):
            assignments.append((variable, value))
        elif id(variable) in class_specific:
            reinitialised.append(path)
        else:
            reshaped.append(f"{path} {tuple(value.shape)} vs {tuple(variable.shape)}")
    problems = []
    if missing:
        problems.append(f"{len(missing)} variables of {', '.join(names)} are not in it "
                        f"({_listing(missing)})")
    if reshaped:
        problems.append(f"{len(reshaped)} have another shape ({_listing(reshaped, 3)})")
    if problems:
        hint = (" Take only the parts that match, e.g. init_parts: backbone."
                if parts == "all" and missing else "")
        raise CheckpointMismatchError(
            f"{source} does not fit {model.name}: {'; '.join(problems)}.{hint}")
    for variable, value in assignments:
        variable.assign(value)
    return TransferReport(source, names, len(assignments), sorted(reinitialised))


def model_weight_values(model):
    """{path: array} of every weight of `model` (a source for `transfer_weights`)."""
    by_id = {id(variable): path for path, variable in variables_by_path(model).items()}
    return {by_id[id(weight)]: np.asarray(weight.numpy()) for weight in model.weights}
