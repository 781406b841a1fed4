"""Loading a preset's published weights into the model its family builds.

`load_pretrained("retinanet-spinenet-49")` finds the preset and its family
in the registry and calls the family model's `from_preset`, which builds
the network the preset describes and fills it with `load_preset_weights`:
the archive is fetched once (`keras.utils.get_file` caches it under
`~/.keras/`), then read by name: the TF1 model-zoo file through the
family's `model_zoo_names`, a Model Garden TF2 file by its keys. Every
variable of the file is loaded or skipped by a named rule.
"""

import dataclasses

from spinenet_tf import registry
from spinenet_tf.pretrained.archives import download, resolve_checkpoint
from spinenet_tf.pretrained.model_garden_checkpoint import load_model_garden_checkpoint_by_keys
from spinenet_tf.pretrained.preset import MODEL_GARDEN_TF2, Preset
from spinenet_tf.pretrained.preset_check import check_preset_file
from spinenet_tf.pretrained.tf1_checkpoint import load_named_variables


def model_zoo_names(model):
    """`{TPU model-zoo variable name: keras variable}` of a family model
    (its family's `model_zoo_names`)."""
    family = registry.family_of(model)
    if family.model_zoo_names is None:
        raise ValueError(f"The TPU model zoo published no {family.name} checkpoints; "
                         f"{model.name!r} has no model-zoo names.")
    return family.model_zoo_names(model)


def model_config_of(preset, image_size=None):
    """`preset`'s `model:` section, at `image_size` if given."""
    if not image_size:
        return preset.model
    return dataclasses.replace(preset.model, image_size=[image_size, image_size])


def build_preset_model(preset, image_size=None):
    """The network `preset`'s file fits (a `Preset` or its name), fresh
    weights, at its input size or `image_size`: its family's `model:`
    section built (the one construction path)."""
    preset = preset if isinstance(preset, Preset) else registry.get_preset(preset)
    if not preset.loadable:
        raise ValueError(f"{preset.name} cannot be loaded: {preset.notes}")
    return model_config_of(preset, image_size).build(name=preset.name.replace("-", "_"))


def load_preset_weights(model, preset, path=None, cache_dir=None):
    """Reads `preset`'s checkpoint (`path`: a local `.tar.gz`, folder or
    prefix; default: its URL, downloaded once) into `model`, built for it.
    Returns a report: the preset, the checkpoint, how many variables were
    loaded, `{rule: [names]}` of what was skipped and the warnings about
    the file (`preset_check`: a training length that is not the preset's).
    A file certainly of another preset of the same variables is a
    `PresetFileError` naming it."""
    prefix = resolve_checkpoint(path or download(preset, cache_dir))
    warning = check_preset_file(prefix, preset)
    if preset.source == MODEL_GARDEN_TF2:
        skipped = load_model_garden_checkpoint_by_keys(model, prefix)
    else:
        skipped = load_named_variables(prefix, model_zoo_names(model),
                                       f"{preset.name} ({type(model).__name__})")
    return {"preset": preset.name, "checkpoint": prefix, "loaded": len(model.weights),
            "skipped": skipped, "warnings": [warning] if warning else []}


def load_pretrained(name, path=None, image_size=None, cache_dir=None):
    """The preset `name`'s (a name or a `Preset`) model with its published weights (see the
    family model's `from_preset`); `model.pretrained_report` says what was
    loaded and skipped."""
    preset = name if isinstance(name, Preset) else registry.get_preset(name)
    model_class = registry.get_family(preset.family).model_class
    return model_class.from_preset(preset, path=path, image_size=image_size,
                                   cache_dir=cache_dir)
