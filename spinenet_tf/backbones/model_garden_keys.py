"""Model Garden's TF2 checkpoint keys of each named SpineNet backbone.

A TF2 object-based checkpoint names each variable by its object path; for
Model Garden's SpineNet backbones the path numbers the layers in the order
of the tf_keras functional graph (`layer_with_weights-12/...`), which only
Model Garden's code computes. `tools/make_model_garden_keys.py` recorded,
with that code and the twin-model transfer (the parity tests' oracle), the
key of every variable of each named variant (`model_garden_keys.json.gz`).
With the table, `spinenet_tf.pretrained` reads Model Garden's checkpoints by
name, without tf-models-official.
"""

import functools
import gzip
import json
import os

from spinenet_tf.backbones.variants import variant_of

KEYS_FILE = os.path.join(os.path.dirname(__file__), "model_garden_keys.json.gz")
# What every key of a TF2 checkpoint ends in.
VARIABLE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


@functools.lru_cache(maxsize=1)
def backbone_key_table():
    """{variant name: {our variable path: Model Garden key}}."""
    with gzip.open(KEYS_FILE, "rt") as f:
        return json.load(f)


def model_garden_backbone_names(backbone, root):
    """`{key in the file: variable}` of a named variant's backbone whose
    variables sit under `root` in the file (e.g. "model/_backbone/")."""
    variant = variant_of(backbone).name
    table = backbone_key_table().get(variant)
    if table is None:
        raise ValueError(f"No Model Garden key table for {variant}.")
    names = {}
    for variable in backbone.weights:
        key = table.get(variable.path)
        if key is None:
            raise ValueError(
                f"{backbone.name} has a variable {variable.path!r} that Model Garden's "
                f"{variant} does not (the key table covers the variant's own "
                "architecture; build the backbone with it).")
        names[f"{root}{key}{VARIABLE_SUFFIX}"] = variable
    return names
