"""Experiment configuration: YAML files in `configs/` -> dataclasses.

    config = load_config("configs/retinanet_spinenet49_coco.yaml",
                         overrides=["trainer.train_steps=100", "train_data.batch_size=8"])
    config = load_config("retinanet_spinenet49_coco")   # a packaged recipe, by name

The recipes of `configs/` are installed with the package (as
`spinenet_tf.configs`), so a name works from any folder (`recipe_names()`
lists them).

Unknown keys are errors that name the key and the file, so a typo never
silently falls back to a default. Overrides are `section.key=value`
(values parsed as YAML: `0.1`, `[1, 2]`, `true`, `null`, strings).
"""

import dataclasses
import importlib.resources
import os
import typing

import yaml


@dataclasses.dataclass
class ModelConfig:
    """The network. `type`: "retinanet" or "classifier"."""

    type: str = "retinanet"
    backbone: str = "spinenet-mobile-49"  # a variant name (spinenet_tf.cli.summary)
    image_size: typing.List[int] = dataclasses.field(default_factory=lambda: [384, 384])
    num_classes: int = 91
    min_level: int = 3
    max_level: int = 7
    activation: str = "swish"
    init_stochastic_depth_rate: float = 0.0
    use_sync_bn: bool = False
    norm_momentum: float = 0.99
    norm_epsilon: float = 0.001
    # Backbone scaling overrides (null: the variant's).
    filter_size_scale: typing.Optional[float] = None
    endpoints_num_filters: typing.Optional[int] = None
    # A custom architecture for the backbone's family: rows [level,
    # block_fn, [offset0, offset1], is_output] (spinenet_tf/backbones/
    # block_specs.py; `spinenet-search` writes them).
    block_specs: typing.Optional[typing.List[typing.Any]] = None
    # RetinaNet (null: the recipe of the backbone variant).
    head_num_convs: typing.Optional[int] = None
    head_num_filters: typing.Optional[int] = None
    use_separable_conv: typing.Optional[bool] = None
    anchor_size: typing.Optional[float] = None
    num_scales: int = 3
    aspect_ratios: typing.List[float] = dataclasses.field(
        default_factory=lambda: [0.5, 1.0, 2.0])
    # A train.py folder whose latest checkpoint initialises the model (the
    # same architecture), e.g. the trained float model to fine-tune.
    init_from: typing.Optional[str] = None
    # Quantization-aware fine-tuning for int8 TFLite (RetinaNet): train the
    # inference form of `init_from`'s model (batch norm folded) with
    # fake-quantized weights and activations (docs/export.md).
    quantization_aware: bool = False
    # Classifier.
    dropout_rate: float = 0.0
    label_smoothing: float = 0.0


@dataclasses.dataclass
class DataConfig:
    """A data source. `source`: "coco" (annotations + image_dir),
    "tfrecord" (file_pattern), or "image_folder" (image_dir, one folder per
    class, for classification)."""

    source: str = "coco"
    annotations: typing.Optional[str] = None
    image_dir: typing.Optional[str] = None
    file_pattern: typing.Optional[str] = None
    batch_size: int = 8  # global batch size
    max_boxes: int = 100
    aug_rand_hflip: bool = True
    aug_scale_min: float = 1.0
    aug_scale_max: float = 1.0
    shuffle_buffer: int = 1000
    strict: bool = False


@dataclasses.dataclass
class LossConfig:
    focal_alpha: float = 0.25
    focal_gamma: float = 1.5
    huber_delta: float = 0.1
    box_loss_weight: float = 50.0
    # L2 as the reference applies it: kernel_regularizer l2(l2_weight_decay / 2).
    l2_weight_decay: float = 0.0


@dataclasses.dataclass
class OptimizerConfig:
    """SGD with momentum ("sgd") or Adam ("adam"); stepwise learning rate
    after a linear warmup (`momentum` is SGD's only).

    `boundaries` are steps; `values` has one more entry than `boundaries`.
    """

    type: str = "sgd"
    momentum: float = 0.9
    boundaries: typing.List[int] = dataclasses.field(default_factory=list)
    values: typing.List[float] = dataclasses.field(default_factory=lambda: [0.08])
    warmup_steps: int = 0
    warmup_learning_rate: float = 0.0067
    global_clipnorm: typing.Optional[float] = None


@dataclasses.dataclass
class TrainerConfig:
    train_steps: int = 1000
    checkpoint_every: int = 100  # also the length of one Keras "epoch"
    eval_every: int = 500  # steps; 0: only at the end
    max_checkpoints: int = 3
    seed: int = 0
    deterministic: bool = False
    # null (float32), "bfloat16", "float16", or "auto": bfloat16 where this
    # machine trains this backbone faster (SpineNet on a CPU with AMX;
    # `spinenet_tf.hardware.auto_mixed_precision`).
    mixed_precision: typing.Optional[str] = None
    # XLA for the train step: "auto" (Keras' default: on unless op
    # determinism is on), true or false. On CPU, XLA is slow for the
    # depthwise convolutions of SpineNet-Mobile (docs/benchmarks.md).
    jit_compile: typing.Union[str, bool] = "auto"
    eval_max_images: typing.Optional[int] = None


@dataclasses.dataclass
class ExperimentConfig:
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train_data: DataConfig = dataclasses.field(default_factory=DataConfig)
    eval_data: DataConfig = dataclasses.field(default_factory=DataConfig)
    losses: LossConfig = dataclasses.field(default_factory=LossConfig)
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    trainer: TrainerConfig = dataclasses.field(default_factory=TrainerConfig)


class ConfigError(ValueError):
    """A configuration file or override is wrong."""


def _fill(cls, values, where):
    if values is None:
        return cls()
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping, received {values!r}.")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {unknown}; valid keys: {sorted(fields)}.")
    kwargs = {}
    for name, value in values.items():
        field_type = fields[name].type
        if dataclasses.is_dataclass(field_type):
            kwargs[name] = _fill(field_type, value, f"{where}.{name}")
        else:
            kwargs[name] = value
    return cls(**kwargs)


def config_from_dict(values, where="config"):
    return _fill(ExperimentConfig, values, where)


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
        node[keys[-1]] = yaml.safe_load(raw)
    return values


def recipe_names():
    """The names of the recipes installed with the package (`configs/`)."""
    return sorted(entry.name[:-len(".yaml")]
                  for entry in importlib.resources.files("spinenet_tf.configs").iterdir()
                  if entry.name.endswith(".yaml"))


def config_path(path_or_name):
    """The YAML file of an experiment: `path_or_name` if it is a file, else the
    installed recipe of that name (with or without ".yaml"); an error listing
    the recipes if it is neither."""
    if os.path.isfile(path_or_name):
        return path_or_name
    name = os.path.basename(str(path_or_name))
    name = name[:-len(".yaml")] if name.endswith(".yaml") else name
    if name in recipe_names():
        return str(importlib.resources.files("spinenet_tf.configs") / f"{name}.yaml")
    raise ConfigError(f"Config {path_or_name!r} is neither a file nor one of the "
                      f"installed recipes {recipe_names()}.")


def load_config(path, overrides=None):
    """Reads a YAML experiment (a path, or a recipe name: `config_path`) and
    applies overrides; returns ExperimentConfig."""
    path = config_path(path)
    try:
        with open(path) as f:
            values = yaml.safe_load(f) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from error
    apply_overrides(values, overrides)
    config = config_from_dict(values, where=path)
    validate(config, path)
    return config


def validate(config, where="config"):
    model, optimizer, trainer = config.model, config.optimizer, config.trainer
    if model.type not in ("retinanet", "classifier"):
        raise ConfigError(f"{where}: model.type must be 'retinanet' or "
                          f"'classifier'; received {model.type!r}.")
    if model.block_specs is not None:
        from spinenet_tf.backbones import block_specs as specs_lib

        mobile = str(model.backbone).lower().startswith("spinenet-mobile")
        try:
            specs_lib.validate_block_specs(
                model.block_specs,
                specs_lib.MOBILE_BLOCK_FNS if mobile else specs_lib.SPINENET_BLOCK_FNS,
                range(1, 8))
        except (TypeError, ValueError) as error:
            raise ConfigError(f"{where}: model.block_specs: {error}") from error
    if model.quantization_aware:
        if model.type != "retinanet":
            raise ConfigError(f"{where}: model.quantization_aware is for RetinaNet; "
                              f"received model.type {model.type!r}.")
        if not model.init_from:
            raise ConfigError(
                f"{where}: model.quantization_aware fine-tunes a trained float "
                "model: set model.init_from to its train.py folder.")
        if trainer.mixed_precision in ("bfloat16", "float16"):
            raise ConfigError(
                f"{where}: model.quantization_aware trains in float32 (fake "
                "quantization simulates int8 in float32); received "
                f"trainer.mixed_precision {trainer.mixed_precision!r} (set it to null "
                "or auto).")
    if len(optimizer.values) != len(optimizer.boundaries) + 1:
        raise ConfigError(
            f"{where}: optimizer.values needs one more entry than "
            f"optimizer.boundaries; received {optimizer.values} and "
            f"{optimizer.boundaries}.")
    if trainer.checkpoint_every < 1 or trainer.train_steps % trainer.checkpoint_every:
        raise ConfigError(
            f"{where}: trainer.train_steps ({trainer.train_steps}) must be a "
            f"multiple of trainer.checkpoint_every ({trainer.checkpoint_every}).")
    if trainer.eval_every and trainer.eval_every % trainer.checkpoint_every:
        raise ConfigError(
            f"{where}: trainer.eval_every ({trainer.eval_every}) must be a "
            f"multiple of trainer.checkpoint_every ({trainer.checkpoint_every}).")
    if trainer.jit_compile not in ("auto", True, False):
        raise ConfigError(f"{where}: trainer.jit_compile must be 'auto', true or "
                          f"false; received {trainer.jit_compile!r}.")
    if trainer.mixed_precision not in (None, "auto", "bfloat16", "float16"):
        raise ConfigError(f"{where}: trainer.mixed_precision must be null, 'auto', "
                          f"'bfloat16' or 'float16'; received {trainer.mixed_precision!r}.")
    if config.optimizer.type not in ("sgd", "adam"):
        raise ConfigError(f"{where}: optimizer.type must be 'sgd' or 'adam'; "
                          f"received {config.optimizer.type!r}.")
    for name in ("train_data", "eval_data"):
        data = getattr(config, name)
        if data.source not in ("coco", "tfrecord", "image_folder"):
            raise ConfigError(f"{where}: {name}.source must be 'coco', 'tfrecord' "
                              f"or 'image_folder'; received {data.source!r}.")


def config_to_dict(config):
    return dataclasses.asdict(config)
