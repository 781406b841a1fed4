"""Where a model's weights start (`model.init_from`, `model.init_parts`) and
which of its parts stay as they start (`model.freeze`).

`init_from` is a train.py folder or a converted model folder (its latest
checkpoint, read by variable path), or a preset name (its published file,
loaded as `load_pretrained` loads it). `init_parts` picks the parts taken
("all", "backbone", or the family's part names); with "all", class-specific
layers whose shape differs (another class count) start fresh and are
listed (`models.base.weight_transfer`). Before anything is assigned, the
source's backbone (variant, flavour, activation) is checked against the
model's when the backbone is taken: weights of another flavour fit by
shape but compute something else.
"""

import os

import keras

from spinenet_tf import registry
from spinenet_tf.compat.keras_internals import flatten_layers
from spinenet_tf.config import read_yaml
from spinenet_tf.models.base.weight_transfer import (
    model_weight_values, resolve_parts, transfer_weights)
from spinenet_tf.pretrained.loading import load_pretrained
from spinenet_tf.training.checkpoints import (
    CHECKPOINT_DIR, CONFIG_FILE, checkpoint_values, latest_checkpoint)
from spinenet_tf.utils.suggestions import did_you_mean

# What must agree between a source backbone and the model's.
BACKBONE_KEYS = ("backbone", "flavor", "activation")


def source_weights(init_from, image_size):
    """({variable path: array}, the source's `model:` section as a dict or
    None, a description) of a model folder or a preset name."""
    if os.path.isdir(init_from):
        checkpoint = latest_checkpoint(os.path.join(init_from, CHECKPOINT_DIR))
        if not checkpoint:
            raise FileNotFoundError(
                f"model.init_from {init_from!r} has no checkpoint to start from (train.py "
                f"and spinenet-pretrained convert write them under {CHECKPOINT_DIR}/).")
        config_file = os.path.join(init_from, CONFIG_FILE)
        section = None
        if os.path.exists(config_file):
            with open(config_file) as f:
                section = (read_yaml(f) or {}).get("model")
        return checkpoint_values(checkpoint), section, checkpoint
    presets = registry.presets()
    if init_from.lower() in presets:
        preset = presets[init_from.lower()]
        model = load_pretrained(preset, image_size=image_size)
        return (model_weight_values(model), dict(vars(preset.model)),
                f"{preset.name} ({model.pretrained_report['checkpoint']})")
    raise FileNotFoundError(
        f"model.init_from {init_from!r} is neither a model folder nor a preset"
        f"{did_you_mean(init_from, presets)}; `spinenet-pretrained list` shows the presets.")


def check_backbone_source(source_section, model_config, init_from):
    """An error naming both when the source's backbone differs from the
    model's in variant, flavour or activation."""
    if not source_section:
        return
    ours = {key: getattr(model_config, key) for key in BACKBONE_KEYS}
    theirs = {key: source_section.get(key, ours[key]) for key in BACKBONE_KEYS}
    if {k: str(v).lower() for k, v in theirs.items()} != {
            k: str(v).lower() for k, v in ours.items()}:
        different = [key for key in BACKBONE_KEYS if str(theirs[key]).lower()
                     != str(ours[key]).lower()]
        raise ValueError(
            f"model.init_from {init_from!r} has a {theirs['backbone']} backbone (flavor "
            f"{theirs['flavor']}, activation {theirs['activation']}); this model's is "
            f"{ours['backbone']} (flavor {ours['flavor']}, activation {ours['activation']}). "
            f"Set model.{', model.'.join(different)} to the source's, or start from another "
            "checkpoint.")


def initialize_model(model, model_config):
    """Loads `model_config.init_from`'s `init_parts` into `model`; prints
    and returns the `TransferReport`."""
    parts = model_config.init_parts
    image_size = int(model.backbone.input.shape[1])
    values, section, source = source_weights(model_config.init_from, image_size)
    if "backbone" in resolve_parts(model, parts):
        check_backbone_source(section, model_config, model_config.init_from)
    report = transfer_weights(values, model, parts, source)
    print(report.line(), flush=True)
    return report


def freeze_parts(model, freeze):
    """Makes the named parts (or, as "<part>.batch_norm", their batch norms)
    untrainable; an error names an entry that is neither."""
    for entry in freeze or ():
        name, _, what = entry.partition(".")
        (name,) = resolve_parts(model, [name])
        part = model.parts()[name]
        if what == "":
            part.trainable = False
        elif what == "batch_norm":
            for layer in flatten_layers(part, include_self=True):
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.trainable = False
        else:
            raise ValueError(f"model.freeze entry {entry!r}: write a part name "
                             f"({list(model.parts())}) or '<part>.batch_norm'.")
