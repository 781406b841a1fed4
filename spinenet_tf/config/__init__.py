"""Experiment configuration: YAML -> typed sections (`experiment.py`); the
shared sections and the bases of each family's `model:` / `losses:`
sections (`sections.py`); field types and ranges (`fields.py`)."""

from spinenet_tf.config.experiment import (
    DEFAULT_FAMILY,
    ExperimentConfig,
    apply_overrides,
    config_from_dict,
    config_names,
    config_path,
    config_to_dict,
    config_yaml,
    load_config,
    validate,
)
from spinenet_tf.config.fields import ConfigError, bounded, check_choice, read_yaml
from spinenet_tf.config.sections import (
    DataConfig,
    LossesConfig,
    ModelConfig,
    OptimizerConfig,
    TrainerConfig,
)

__all__ = ["ConfigError", "DEFAULT_FAMILY", "DataConfig", "ExperimentConfig", "LossesConfig",
           "ModelConfig", "OptimizerConfig", "TrainerConfig", "apply_overrides", "bounded",
           "check_choice", "config_from_dict", "config_names", "config_path",
           "config_to_dict", "config_yaml", "load_config", "read_yaml", "validate"]
