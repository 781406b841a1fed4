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
import re
import typing

import yaml


class _YamlLoader(yaml.SafeLoader):
    """YAML's safe loader, reading `4e-05` as the number it means (YAML 1.1,
    which PyYAML follows, reads exponents without a "." as strings)."""


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))


def read_yaml(text_or_stream):
    """Parses YAML as the configs are read (`_YamlLoader`)."""
    return yaml.load(text_or_stream, Loader=_YamlLoader)


def bounded(default, at_least=None, above=None, at_most=None):
    """A field whose value must lie in a range (`validate` checks it; a
    null optional field is not checked)."""
    return dataclasses.field(default=default, metadata={
        "at_least": at_least, "above": above, "at_most": at_most})


@dataclasses.dataclass
class ModelConfig:
    """The network. `type`: "retinanet", "classifier" or "maskrcnn"."""

    type: str = "retinanet"
    backbone: str = "spinenet-mobile-49"  # a variant name (spinenet_tf.cli.summary)
    image_size: typing.List[int] = dataclasses.field(default_factory=lambda: [384, 384])
    num_classes: int = bounded(91, at_least=2)
    min_level: int = bounded(3, at_least=1)
    max_level: int = bounded(7, at_least=1)
    activation: str = "swish"
    init_stochastic_depth_rate: float = bounded(0.0, at_least=0.0, at_most=1.0)
    use_sync_bn: bool = False
    norm_momentum: float = bounded(0.99, at_least=0.0, at_most=1.0)
    norm_epsilon: float = bounded(0.001, above=0.0)
    # Backbone scaling overrides (null: the variant's).
    filter_size_scale: typing.Optional[float] = bounded(None, above=0.0)
    endpoints_num_filters: typing.Optional[int] = bounded(None, at_least=1)
    # A custom architecture for the backbone's family: rows [level,
    # block_fn, [offset0, offset1], is_output] (spinenet_tf/backbones/
    # block_specs.py; `spinenet-search` writes them).
    block_specs: typing.Optional[typing.List[typing.Any]] = None
    # "model_garden" (tf-models-official's network) or "tpu" (the TPU model
    # zoo's: fixed padding; SpineNet: one pool per down-sampling, 15 block
    # specs; Mobile: swish / sigmoid squeeze-excitation; anchors in aspect
    # order 1, 2, 0.5 unless aspect_ratios is set): what
    # `spinenet-pretrained convert` writes for a model-zoo checkpoint.
    flavor: str = "model_garden"
    # RetinaNet (null: the recipe of the backbone variant).
    head_num_convs: typing.Optional[int] = bounded(None, at_least=0)
    head_num_filters: typing.Optional[int] = bounded(None, at_least=1)
    use_separable_conv: typing.Optional[bool] = None
    anchor_size: typing.Optional[float] = bounded(None, above=0.0)
    num_scales: int = bounded(3, at_least=1)
    # null: the flavor's order ([0.5, 1.0, 2.0]; "tpu": [1.0, 2.0, 0.5]).
    aspect_ratios: typing.Optional[typing.List[float]] = None
    # A train.py folder whose latest checkpoint initialises the model (the
    # same architecture), e.g. the trained float model to fine-tune.
    init_from: typing.Optional[str] = None
    # Quantization-aware fine-tuning for int8 TFLite (RetinaNet): train the
    # inference form of `init_from`'s model (batch norm folded) with
    # fake-quantized weights and activations (docs/export.md).
    quantization_aware: bool = False
    # Classifier.
    dropout_rate: float = bounded(0.0, at_least=0.0, at_most=1.0)
    label_smoothing: float = bounded(0.0, at_least=0.0, at_most=1.0)
    # "top" (pool the coarsest level) or "all" (the mean of every level, as
    # the TPU model zoo's classifiers).
    aggregation: str = "top"
    # Mask R-CNN: head_num_convs / head_num_filters size its box and mask
    # heads and head_num_filters its RPN (null: the recipe's 4 x 256);
    # anchors as above (the recipe: num_scales 1, anchor_size 3). Further
    # keyword arguments of spinenet_tf.maskrcnn.MaskRCNN go here, e.g.
    # {box_fc_dims: 256, train_proposals: {num_proposals: 300},
    # sampling: {roi_samples_per_image: 128}}.
    maskrcnn_options: typing.Optional[typing.Dict[str, typing.Any]] = None


@dataclasses.dataclass
class DataConfig:
    """A data source. `source`: "coco" (annotations + image_dir),
    "tfrecord" (file_pattern), or "image_folder" (image_dir, one folder per
    class, for classification)."""

    source: str = "coco"
    annotations: typing.Optional[str] = None
    image_dir: typing.Optional[str] = None
    file_pattern: typing.Optional[str] = None
    batch_size: int = bounded(8, at_least=1)  # global batch size
    max_boxes: int = bounded(100, at_least=1)
    aug_rand_hflip: bool = True
    aug_scale_min: float = bounded(1.0, above=0.0)
    aug_scale_max: float = bounded(1.0, above=0.0)
    shuffle_buffer: int = bounded(1000, at_least=1)
    # Raise on the first image that cannot be decoded (else it is skipped
    # and counted).
    strict: bool = False
    # The largest share of images that may be unreadable (missing, empty or
    # not an image file): more is an error before training (docs/training.md).
    max_unreadable_fraction: float = bounded(0.1, at_least=0.0, at_most=1.0)


@dataclasses.dataclass
class LossConfig:
    focal_alpha: float = bounded(0.25, at_least=0.0, at_most=1.0)
    focal_gamma: float = bounded(1.5, at_least=0.0)
    huber_delta: float = bounded(0.1, above=0.0)
    box_loss_weight: float = bounded(50.0, at_least=0.0)
    # L2 as the reference applies it: kernel_regularizer l2(l2_weight_decay / 2).
    l2_weight_decay: float = bounded(0.0, at_least=0.0)


@dataclasses.dataclass
class OptimizerConfig:
    """SGD with momentum ("sgd") or Adam ("adam"); stepwise learning rate
    after a linear warmup (`momentum` is SGD's only).

    `boundaries` are steps; `values` has one more entry than `boundaries`.
    """

    type: str = "sgd"
    momentum: float = bounded(0.9, at_least=0.0, at_most=1.0)
    boundaries: typing.List[int] = dataclasses.field(default_factory=list)
    values: typing.List[float] = dataclasses.field(default_factory=lambda: [0.08])
    warmup_steps: int = bounded(0, at_least=0)
    warmup_learning_rate: float = bounded(0.0067, at_least=0.0)
    global_clipnorm: typing.Optional[float] = bounded(None, above=0.0)


@dataclasses.dataclass
class TrainerConfig:
    train_steps: int = bounded(1000, at_least=1)
    # Also the length of one Keras "epoch".
    checkpoint_every: int = bounded(100, at_least=1)
    eval_every: int = bounded(500, at_least=0)  # 0: only at the end
    max_checkpoints: int = bounded(3, at_least=1)
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
    eval_max_images: typing.Optional[int] = bounded(None, at_least=1)


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
        node[keys[-1]] = read_yaml(raw)
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
            values = read_yaml(f) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from error
    apply_overrides(values, overrides)
    config = config_from_dict(values, where=path)
    validate(config, path)
    return config


def _describe(field_type):
    """A field's type as the error messages say it: 'an integer', 'null or a
    list of numbers'."""
    origin, args = typing.get_origin(field_type), typing.get_args(field_type)
    if origin is typing.Union:
        kinds = [_describe(a) for a in args if a is not type(None)]
        return ("null or " if type(None) in args else "") + " or ".join(kinds)
    if origin is dict:
        return "a mapping"
    if origin is list:
        item = _describe(args[0]) if args else "values"
        return "a list of " + {"an integer": "integers", "a number": "numbers",
                               "a string": "strings", "true or false": "booleans"}.get(
                                   item, "values")
    return {int: "an integer", float: "a number", bool: "true or false",
            str: "a string", typing.Any: "a value"}[field_type]


def _conform(value, field_type):
    """`value` as `field_type` (an int where a float is wanted becomes a
    float), or raise TypeError. Booleans are not numbers here, and numbers
    are not booleans or strings: YAML's `eight` or `"8"` for an integer is a
    mistake, not something to convert."""
    origin, args = typing.get_origin(field_type), typing.get_args(field_type)
    if field_type is typing.Any:
        return value
    if origin is typing.Union:
        if value is None and type(None) in args:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return _conform(value, option)
            except TypeError:
                pass
        raise TypeError
    if origin is list:
        if not isinstance(value, list):
            raise TypeError
        return [_conform(item, args[0]) for item in value] if args else value
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise TypeError
        return value
    if field_type is float and isinstance(value, (int, float)) and not isinstance(
            value, bool):
        return float(value)
    if field_type is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if field_type in (bool, str) and isinstance(value, field_type):
        return value
    raise TypeError


def _check_fields(section, where, prefix=""):
    """Every field of the dataclass `section` (recursively) has its declared
    type and lies in its `bounded` range; an error names the key, the value
    received and what is expected. Conforms ints given for floats in place."""
    for field in dataclasses.fields(section):
        key, value = f"{prefix}{field.name}", getattr(section, field.name)
        if dataclasses.is_dataclass(field.type):
            _check_fields(value, where, f"{key}.")
            continue
        try:
            value = _conform(value, field.type)
        except TypeError:
            raise ConfigError(
                f"{where}: {key} must be {_describe(field.type)}; received {value!r} "
                f"({type(value).__name__}).") from None
        setattr(section, field.name, value)
        if value is None:
            continue
        at_least, above, at_most = (field.metadata.get(k)
                                    for k in ("at_least", "above", "at_most"))
        if ((at_least is not None and value < at_least) or (above is not None and value <= above)
                or (at_most is not None and value > at_most)):
            wanted = " and ".join(text for text in (
                at_least is not None and f">= {at_least}", above is not None and f"> {above}",
                at_most is not None and f"<= {at_most}") if text)
            raise ConfigError(f"{where}: {key} must be {wanted}; received {value!r}.")


def validate(config, where="config"):
    """Checks `config` as a whole: every field's type and range, then the
    rules that tie fields together. Raises ConfigError naming the key."""
    _check_fields(config, where)
    model, optimizer, trainer = config.model, config.optimizer, config.trainer
    if len(model.image_size) != 2 or min(model.image_size) < 1:
        raise ConfigError(f"{where}: model.image_size must be [height, width] in "
                          f"pixels; received {model.image_size!r}.")
    if model.min_level > model.max_level:
        raise ConfigError(f"{where}: model.min_level ({model.min_level}) must not "
                          f"exceed model.max_level ({model.max_level}).")
    if model.type not in ("retinanet", "classifier", "maskrcnn"):
        raise ConfigError(f"{where}: model.type must be 'retinanet', 'classifier' or "
                          f"'maskrcnn'; received {model.type!r}.")
    for key, allowed in (("flavor", ("model_garden", "tpu")),
                         ("aggregation", ("top", "all"))):
        if getattr(model, key) not in allowed:
            raise ConfigError(f"{where}: model.{key} must be one of {list(allowed)}; "
                              f"received {getattr(model, key)!r}.")
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
        if data.aug_scale_min > data.aug_scale_max:
            raise ConfigError(
                f"{where}: {name}.aug_scale_min ({data.aug_scale_min}) must not exceed "
                f"{name}.aug_scale_max ({data.aug_scale_max}).")


def config_to_dict(config):
    return dataclasses.asdict(config)
