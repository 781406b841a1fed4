"""Every variable of a model keyed by a path that is the same in every
process: what training checkpoints and the inference form match weights by."""

import re

import keras

from spinenet_tf.utils.checkpoint_errors import CheckpointMismatchError

# A seed-generator state Keras numbers per process (`seed_generator_12/...`):
# made outside any layer's name scope, e.g. by `keras.layers.Dropout`.
_NUMBERED_SEED_STATE = re.compile(r"seed_generator(_\d+)?/seed_generator_state")


def _seed_state_owners(model, prefix=""):
    for layer in model.layers:
        state = getattr(getattr(layer, "seed_generator", None), "state", None)
        if state is not None:
            yield id(state), f"{prefix}{layer.name}/seed_generator_state"
        if isinstance(layer, keras.Model):
            yield from _seed_state_owners(layer, f"{prefix}{layer.name}/")


def variables_by_path(model):
    """{path: variable} of every variable of `model`.

    Paths are Keras' `variable.path`, except for seed-generator states
    that Keras numbers per process, which are keyed by the layer that owns
    them. Raises if two variables share a path or a numbered state has no
    owning layer: such a model cannot be checkpointed by path.
    """
    owners = dict(_seed_state_owners(model))
    paths = {}
    for variable in model.variables:
        path = variable.path
        if _NUMBERED_SEED_STATE.fullmatch(path):
            if id(variable) not in owners:
                raise CheckpointMismatchError(
                    f"Variable {path!r} of {model.name!r} has a name numbered "
                    "per process and no layer of the model owns it, so it has "
                    "no stable path to checkpoint it by.")
            path = owners[id(variable)]
        if path in paths:
            raise CheckpointMismatchError(
                f"Two variables of {model.name!r} have the path {path!r}; give "
                "their layers distinct names.")
        paths[path] = variable
    return paths


def optimizer_variables_by_path(optimizer):
    """{path: variable} of an optimizer's variables, without the optimizer's
    own name, which Keras numbers per process (`sgd/...`, `sgd_1/...`)."""
    prefix = f"{optimizer.name}/"
    return {v.path[len(prefix):] if v.path.startswith(prefix) else v.path: v
            for v in optimizer.variables}
