"""The model families and their published checkpoints, found by name.

A family (`spinenet_tf/models/<family>/`) registers itself when its package
is imported (`spinenet_tf.models` imports every family): its Keras model
class, its config sections (the experiment's `model:` and `losses:`), its
task (data, evaluation, pictures) and its presets (published checkpoints),
with the functions that name its variables in those files. Shared code asks
the registry instead of switching on a family: the config loader picks the
sections of `model.type`, the trainer its task, `load_pretrained(name)` the
class that builds a preset. This module imports nothing of the package, so
every layer may ask it.
"""

import dataclasses
from typing import Callable, Mapping, Optional, Tuple

from spinenet_tf.utils.suggestions import did_you_mean


@dataclasses.dataclass(frozen=True)
class PaperModel:
    """The reference figures of a family's paper model on one variant
    (`from_variant(variant)` with 91 classes, at the paper's input size).

    Attributes:
        reference_params: parameters tf-models-official 2.20's factory
            builds for the same recipe (counted with the installed package).
        published_params: as published (MODEL_GARDEN.md, the papers), or None.
        published_macs: multiply-adds as published, or None.
        settings: `from_variant` settings the recipe needs beyond the
            family's defaults (e.g. a yaml's anchors).
    """

    reference_params: int
    published_params: Optional[float] = None
    published_macs: Optional[float] = None
    settings: Tuple = ()


@dataclasses.dataclass(frozen=True)
class Family:
    """Everything shared code needs to know about one model family.

    Attributes:
        name: the family's `model.type` ("retinanet", "maskrcnn", ...).
        model_class: its Keras model class (`from_variant`, `from_preset`).
        config_class: the experiment's `model:` section (a dataclass whose
            `build(...)` makes the model: the one construction path).
        losses_class: the experiment's `losses:` section.
        task_class: the job of an experiment (`models.base.Task`).
        description: one line for listings.
        presets: its published checkpoints (`pretrained.Preset`).
        model_zoo_names: model -> {TF1 variable name: keras variable}, for
            the TPU model zoo's files (None: the family has none).
        model_garden_names: (model, {part: key prefix}) -> {key: variable},
            for Model Garden's TF2 files read by their keys (None: none).
        model_garden_twin_loader: (model, checkpoint) -> model, loading a
            Model Garden checkpoint through tf-models-official's twin of the
            model (the `garden` extra), for architectures without a key table.
        paper_models: {variant name: `PaperModel`}, what `spinenet-summary`
            builds and sets beside the reference's counts.
    """

    name: str
    model_class: type
    config_class: type
    losses_class: type
    task_class: type
    description: str = ""
    presets: Tuple = ()
    model_zoo_names: Optional[Callable] = None
    model_garden_names: Optional[Callable] = None
    model_garden_twin_loader: Optional[Callable] = None
    paper_models: Mapping[str, PaperModel] = dataclasses.field(default_factory=dict)


_FAMILIES = {}
_PRESETS = {}


def register_family(family):
    """Adds `family` (and its presets); a second family of the same name, or
    a preset name taken by another, is an error."""
    if family.name in _FAMILIES and _FAMILIES[family.name] is not family:
        raise ValueError(f"A model family named {family.name!r} is registered already.")
    for preset in family.presets:
        if preset.family != family.name:
            raise ValueError(f"Preset {preset.name!r} is a {preset.family!r} checkpoint; "
                             f"family {family.name!r} cannot register it.")
        if preset.name in _PRESETS and _PRESETS[preset.name] is not preset:
            raise ValueError(f"A preset named {preset.name!r} is registered already.")
    _FAMILIES[family.name] = family
    _PRESETS.update({preset.name: preset for preset in family.presets})
    return family


def families():
    """The registered families, by name."""
    return dict(sorted(_FAMILIES.items()))


def get_family(name):
    """The family whose `model.type` is `name`; an error listing the
    families (with the closest names) otherwise."""
    if name not in _FAMILIES:
        raise ValueError(f"Unknown model family {name!r}{did_you_mean(name, _FAMILIES)}; "
                         f"the families are {sorted(_FAMILIES)}.")
    return _FAMILIES[name]


def family_of(model_or_class):
    """The family whose model class `model_or_class` is (or derives from)."""
    cls = model_or_class if isinstance(model_or_class, type) else type(model_or_class)
    for base in cls.__mro__:
        for family in _FAMILIES.values():
            if family.model_class is base:
                return family
    raise ValueError(f"{cls.__name__} is no registered model family's model; the "
                     f"families' models are {[f.model_class.__name__ for f in _FAMILIES.values()]}.")


def presets():
    """Every registered preset, by name."""
    return dict(sorted(_PRESETS.items()))


def get_preset(name):
    """The preset called `name` (case-insensitive); an error with the closest
    names otherwise."""
    key = str(name).lower()
    if key not in _PRESETS:
        raise ValueError(f"Unknown pretrained checkpoint {name!r}{did_you_mean(key, _PRESETS)}; "
                         f"`spinenet-pretrained list` lists the {len(_PRESETS)} presets.")
    return _PRESETS[key]
