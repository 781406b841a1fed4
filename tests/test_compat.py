"""Private library internals live in `spinenet_tf.compat` only, each checked
against the versions it was tested with; training, export and quantization
code asks tasks and models instead of switching on their type or name."""

import os
import re

import keras
import pytest
from support import ROOT

from spinenet_tf import compat
from spinenet_tf.compat import keras_internals, versions

pytestmark = pytest.mark.every_version  # the internals of each TensorFlow CI runs

PACKAGE = os.path.join(ROOT, "spinenet_tf")

# What reaching into a library's private parts looks like in the source.
PRIVATE = [r"\._flatten_layers\b", r"_build_shapes_dict", r"\bkeras\.src\b",
           r"\btensorflow\.python\b", r"\btensorflow\.lite\.tools\b", r"_pywrap_",
           r"sys\.modules\[", r"\._momentums\b", r"\._velocities\b",
           r"_get_variable_index", r"\._symbolic_build\b", r"_maybe_symbolic_build"]
# Code that must not decide by a model's type or name.
NO_SWITCHES = ("training", "export", "quantization", "evaluation", "tasks", "cli")
SWITCHES = [r"\bhasattr\(", r"isinstance\([^)]*\b(RetinaNet|SpineNetClassifier|MaskRCNN)\b",
            r"type\(model\)\.__name__", r"\.startswith\(\(?\s*[\"'](retinanet|spinenet|classifier)"]


def sources(*folders):
    for folder in folders or ("",):
        for root, _, names in os.walk(os.path.join(PACKAGE, folder)):
            for name in names:
                if name.endswith(".py"):
                    path = os.path.join(root, name)
                    yield os.path.relpath(path, ROOT), open(path).read()


def test_private_internals_are_used_only_in_the_compat_module():
    found = [(path, pattern) for path, text in sources()
             if not path.startswith(os.path.join("spinenet_tf", "compat"))
             for pattern in PRIVATE if re.search(pattern, text)]
    assert not found, found


def test_training_export_and_quantization_do_not_switch_on_the_model():
    found = [(path, pattern) for path, text in sources(*NO_SWITCHES)
             for pattern in SWITCHES if re.search(pattern, text)]
    assert not found, found


def test_an_untested_version_fails_loudly_naming_the_internal():
    with pytest.raises(compat.InternalChanged,
                       match=r"keras.Layer._flatten_layers.*keras>=3.15,<3.16.*keras 3.99"):
        compat.require("keras", "keras.Layer._flatten_layers", version="3.99.0")
    compat.require("keras", "keras.Layer._flatten_layers")  # the installed one is tested


def test_a_missing_internal_fails_loudly_naming_it():
    with pytest.raises(compat.InternalChanged, match="keras.Model._not_there"):
        versions.private_attribute(object(), "_not_there", "keras", "keras.Model._not_there")


def test_the_wrappers_give_what_keras_has():
    inner = keras.layers.Dense(2, name="inner")
    model = keras.Sequential([keras.Input((3,)), inner])
    assert inner in keras_internals.flatten_layers(model)
    assert tuple(keras_internals.build_input_shape(inner)) == (None, 3)
    optimizer = keras.optimizers.Adam()
    optimizer.build(model.trainable_variables)
    first, second = keras_internals.adam_slots(optimizer, inner.kernel)
    assert first.shape == second.shape == inner.kernel.shape
