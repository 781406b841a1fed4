"""Experiment configuration: YAML files in `configs/` -> dataclasses.

    config = load_config("configs/retinanet_spinenet49_coco.yaml",
                         overrides=["trainer.train_steps=100", "train_data.batch_size=8"])
    config = load_config("retinanet_spinenet49_coco")   # an installed config, by name

The configs of `configs/` are installed with the package (as
`spinenet_tf.configs`), so a name works from any folder (`config_names()`
lists them).

`model.type` names the model family (`spinenet_tf.registry`), whose
sections the `model:` and `losses:` keys fill; the other sections are
shared. Unknown keys are errors that name the key and the file (and the
family whose key it is, or the closest known keys), so a typo or another
family's setting never silently falls back to a default. Overrides are
`section.key=value` (values parsed as YAML: `0.1`, `[1, 2]`, `true`,
`null`, strings).
"""

import dataclasses
import importlib.resources
import os
import typing

import yaml

from spinenet_tf import registry
from spinenet_tf.config.fields import ConfigError, check_fields, check_value, read_yaml
from spinenet_tf.config.sections import DataConfig, OptimizerConfig, TrainerConfig
from spinenet_tf.utils.suggestions import did_you_mean

# The family of a `model:` section that names none.
DEFAULT_FAMILY = "retinanet"


def _family_section(kind):
    def default():
        family = registry.get_family(DEFAULT_FAMILY)
        return (family.config_class if kind == "model" else family.losses_class)()
    return dataclasses.field(default_factory=default)


@dataclasses.dataclass
class ExperimentConfig:
    """One experiment: the model family's `model` and `losses` sections
    (dataclasses of `registry.get_family(model.type)`), and the shared
    `train_data`, `eval_data`, `optimizer` and `trainer`."""

    model: typing.Any = _family_section("model")
    train_data: DataConfig = dataclasses.field(default_factory=DataConfig)
    eval_data: DataConfig = dataclasses.field(default_factory=DataConfig)
    losses: typing.Any = _family_section("losses")
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    trainer: TrainerConfig = dataclasses.field(default_factory=TrainerConfig)

    @property
    def family(self):
        """The registered family of `model.type`."""
        return registry.get_family(self.model.type)


SHARED_SECTIONS = {"train_data": DataConfig, "eval_data": DataConfig,
                   "optimizer": OptimizerConfig, "trainer": TrainerConfig}


def _unknown_keys_error(cls, unknown, where, section, family):
    """A ConfigError for keys `cls` does not have: moved keys say where to,
    another family's keys name that family, others get the closest names."""
    valid = sorted(f.name for f in dataclasses.fields(cls))
    messages = []
    for key in unknown:
        if key in getattr(cls, "MOVED_KEYS", {}):
            messages.append(f"{section}.{key} {cls.MOVED_KEYS[key]}")
            continue
        owners = sorted(
            other.name for other in registry.families().values()
            if other.name != (family and family.name) and key in {
                f.name for f in dataclasses.fields(
                    other.config_class if section == "model" else other.losses_class)})
        if family and owners:
            messages.append(f"{section}.{key} is a setting of the {' and '.join(owners)} "
                            f"famil{'ies' if len(owners) > 1 else 'y'}, not of "
                            f"model.type {family.name!r}")
        else:
            messages.append(f"{section}.{key} is not a setting{did_you_mean(key, valid)}")
    return ConfigError(f"{where}: {'; '.join(messages)}. Valid {section} keys"
                       f"{f' of {family.name}' if family else ''}: {valid}.")


def _fill(cls, values, where, section, family=None):
    """An instance of the dataclass `cls` from a mapping, nested dataclass
    fields filled in turn; unknown keys are errors."""
    if values is None:
        return cls()
    if dataclasses.is_dataclass(values):
        return values
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: {section} must be a mapping; received {values!r}.")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise _unknown_keys_error(cls, unknown, where, section, family)
    kwargs = {}
    for name, value in values.items():
        field_type = fields[name].type
        if dataclasses.is_dataclass(field_type):
            kwargs[name] = _fill(field_type, value, where, f"{section}.{name}")
        else:  # checked before the section is made, as its own checks may assume types
            kwargs[name] = check_value(value, fields[name], f"{section}.{name}", where)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{where}: {section}: {error}") from None


def config_from_dict(values, where="config"):
    """An `ExperimentConfig` from a nested mapping (a YAML file's content)."""
    values = dict(values or {})
    unknown = sorted(set(values) - {f.name for f in dataclasses.fields(ExperimentConfig)})
    if unknown:
        valid = [f.name for f in dataclasses.fields(ExperimentConfig)]
        raise ConfigError(f"{where}: unknown section(s) "
                          + ", ".join(f"{k!r}{did_you_mean(k, valid)}" for k in unknown)
                          + f"; the sections are {valid}.")
    model_values = values.get("model") or {}
    if not isinstance(model_values, dict):
        raise ConfigError(f"{where}: model must be a mapping; received {model_values!r}.")
    family_name = model_values.get("type", DEFAULT_FAMILY)
    try:
        family = registry.get_family(family_name)
    except ValueError as error:
        raise ConfigError(f"{where}: model.type: {error}") from None
    sections = {"model": _fill(family.config_class, {**model_values, "type": family.name},
                               where, "model", family),
                "losses": _fill(family.losses_class, values.get("losses"), where, "losses",
                                family)}
    for name, cls in SHARED_SECTIONS.items():
        sections[name] = _fill(cls, values.get(name), where, name)
    return ExperimentConfig(**sections)


def apply_overrides(values, overrides):
    """Applies `section.key=value` strings to a nested dict (in place)."""
    for override in overrides or []:
        if "=" not in override:
            raise ConfigError(f"Override {override!r} is not `section.key=value`.")
        path, raw = override.split("=", 1)
        keys = path.strip().split(".")
        node = values
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"Override {override!r}: {key!r} is not a section.")
        node[keys[-1]] = read_yaml(raw)
    return values


def config_names():
    """The names of the configs installed with the package (`configs/`)."""
    return sorted(entry.name[:-len(".yaml")]
                  for entry in importlib.resources.files("spinenet_tf.configs").iterdir()
                  if entry.name.endswith(".yaml"))


def config_path(path_or_name):
    """The YAML file of an experiment: `path_or_name` if it is a file, else the
    installed config of that name (with or without ".yaml"); an error with
    the closest names if it is neither."""
    if os.path.isfile(path_or_name):
        return path_or_name
    name = os.path.basename(str(path_or_name))
    name = name[:-len(".yaml")] if name.endswith(".yaml") else name
    if name in config_names():
        return str(importlib.resources.files("spinenet_tf.configs") / f"{name}.yaml")
    raise ConfigError(f"Config {path_or_name!r} is neither a file nor an installed config"
                      f"{did_you_mean(name, config_names())}; the installed configs are "
                      f"{config_names()}.")


def load_config(path, overrides=None):
    """Reads a YAML experiment (a path, or an installed config's name:
    `config_path`) and applies overrides; returns ExperimentConfig."""
    path = config_path(path)
    try:
        with open(path) as f:
            values = read_yaml(f) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path} must hold a mapping of sections; received {values!r}.")
    apply_overrides(values, overrides)
    config = config_from_dict(values, where=path)
    validate(config, path)
    return config


def validate(config, where="config"):
    """Checks `config` as a whole: every field's type and range, then the
    rules that tie fields together (each section's `validate`). Raises
    ConfigError naming the key."""
    check_fields(config, where)
    config.model.validate(where, config)
    config.losses.validate(where, config)
    config.optimizer.validate(where)
    config.trainer.validate(where)
    for name in ("train_data", "eval_data"):
        getattr(config, name).validate(where, name)


def config_to_dict(config):
    """The config as plain data (what `config.yaml` of a model folder holds)."""
    return dataclasses.asdict(config)


def config_yaml(config):
    """The YAML text of `config` (a model folder's `config.yaml`)."""
    return yaml.safe_dump(config_to_dict(config), sort_keys=False)
