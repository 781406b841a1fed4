"""Private Keras 3 internals: layer traversal, build shapes, optimizer slots
and the TensorFlow trainer's multi-worker hooks."""

import importlib

from spinenet_tf.compat.versions import InternalChanged, private_attribute, require

TRAINER_MODULE = "keras.src.backend.tensorflow.trainer"


def flatten_layers(layer, include_self=False, recursive=True):
    """Every layer inside `layer` (nested ones too with `recursive`), as
    Keras tracks them: `Layer._flatten_layers`. Keras has no public
    traversal of a custom layer's sublayers."""
    method = private_attribute(layer, "_flatten_layers", "keras", "keras.Layer._flatten_layers")
    return list(method(include_self=include_self, recursive=recursive))


def build_input_shape(layer):
    """The input shape `layer` was built with (`Layer._build_shapes_dict`),
    or None: sublayers of custom layers have no public input shape."""
    require("keras", "keras.Layer._build_shapes_dict")
    shapes = getattr(layer, "_build_shapes_dict", None) or {}
    return next(iter(shapes.values()), None)


def adam_slots(optimizer, variable):
    """(first moment, second moment) variables of `variable` in a Keras
    Adam optimizer (`_get_variable_index`, `_momentums`, `_velocities`)."""
    index = private_attribute(optimizer, "_get_variable_index", "keras",
                              "keras.optimizers.Adam._get_variable_index")(variable)
    momentums = private_attribute(optimizer, "_momentums", "keras",
                                  "keras.optimizers.Adam._momentums")
    velocities = private_attribute(optimizer, "_velocities", "keras",
                                   "keras.optimizers.Adam._velocities")
    return momentums[index], velocities[index]


def tensorflow_trainer_module():
    """Keras' TensorFlow trainer module, whose `reduce_per_replica` the
    multi-worker work-around replaces."""
    require("keras", TRAINER_MODULE)
    try:
        module = importlib.import_module(TRAINER_MODULE)
    except ImportError:
        raise InternalChanged(f"spinenet_tf uses the private module {TRAINER_MODULE}, "
                              "which this Keras does not have.") from None
    private_attribute(module, "reduce_per_replica", "keras",
                      f"{TRAINER_MODULE}.reduce_per_replica")
    return module


def symbolic_build_hooks(model):
    """Checks `Model._maybe_symbolic_build` and `Model._symbolic_build`,
    which the multi-worker work-around replaces and calls."""
    for name in ("_maybe_symbolic_build", "_symbolic_build"):
        private_attribute(model, name, "keras", f"keras.Model.{name}")


def symbolic_build(model, data_batch):
    """`Model._symbolic_build(data_batch=...)`: builds model, metrics and
    optimizer from one batch."""
    private_attribute(model, "_symbolic_build", "keras",
                      "keras.Model._symbolic_build")(data_batch=data_batch)
