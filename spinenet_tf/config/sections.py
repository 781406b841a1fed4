"""The sections of an experiment that every family shares (data, optimizer,
trainer) and the bases of the two that each family defines (`model:` and
`losses:`)."""

import dataclasses
import typing

import keras

from spinenet_tf.backbones import block_specs as specs_lib
from spinenet_tf.backbones.variants import FLAVORS, get_variant
from spinenet_tf.config.fields import ConfigError, bounded, check_choice

DATA_SOURCES = ("coco", "tfrecord", "image_folder")
OPTIMIZERS = ("sgd", "adam")
MIXED_PRECISIONS = (None, "auto", "bfloat16", "float16")


@dataclasses.dataclass
class ModelConfig:
    """What every family's `model:` section has: the backbone, the input,
    the classes and where the weights start from. A family's section
    derives from this one, adds its own keys and sets its recipe's defaults;
    its `build` makes the model (the one construction path that
    `from_variant`, the task, the presets and the model folders all take).

    `type` names the family (`spinenet_tf.registry`).
    """

    type: str = ""
    backbone: str = "spinenet-mobile-49"  # a variant name (spinenet-summary --all)
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
    # zoo's conventions: `backbones.variants.FLAVORS`, and each family's).
    flavor: str = "model_garden"
    # Where the weights start: a train.py folder, a converted model folder
    # or a preset name (docs/fine_tuning.md).
    init_from: typing.Optional[str] = None
    # Which of init_from's parts to take: "all" (everything whose shape
    # fits; class-specific layers re-initialised when the class count
    # differs), "backbone", or a list of part names (the family's `parts()`:
    # backbone, head, rpn_head, box_head, mask_head, ...).
    init_parts: typing.Union[str, typing.List[str]] = "all"
    # Parts that stay as they start: part names ("backbone") or a part's
    # batch norms only ("backbone.batch_norm"); null: nothing frozen.
    freeze: typing.Optional[typing.List[str]] = None

    # Keys of older releases that moved: {key: what to write instead}.
    MOVED_KEYS: typing.ClassVar[typing.Dict[str, str]] = {}

    def validate(self, where, experiment):
        """The rules that tie this section's fields (and the experiment's)
        together; raises ConfigError naming the key."""
        if len(self.image_size) != 2 or min(self.image_size) < 1:
            raise ConfigError(f"{where}: model.image_size must be [height, width] in "
                              f"pixels; received {self.image_size!r}.")
        if self.min_level > self.max_level:
            raise ConfigError(f"{where}: model.min_level ({self.min_level}) must not "
                              f"exceed model.max_level ({self.max_level}).")
        check_choice(self.flavor, FLAVORS, "model.flavor", where)
        if self.init_parts != "all" and not self.init_from:
            raise ConfigError(f"{where}: model.init_parts {self.init_parts!r} says which parts "
                              "of model.init_from to take; set model.init_from too.")
        if isinstance(self.init_parts, list) and not self.init_parts:
            raise ConfigError(f"{where}: model.init_parts is an empty list; name the parts "
                              "to take, or write \"all\".")
        try:
            variant = get_variant(self.backbone)
        except ValueError as error:
            raise ConfigError(f"{where}: model.backbone: {error}") from None
        if self.block_specs is not None:
            try:
                specs_lib.validate_block_specs(self.block_specs, variant.builder.block_fns,
                                               range(1, 8))
            except (TypeError, ValueError) as error:
                raise ConfigError(f"{where}: model.block_specs: {error}") from error

    def trains_quantization_aware(self):
        """Whether training runs the model's quantization-aware form (a
        family that has one says so)."""
        return False

    def build_backbone(self, kernel_regularizer=None, image_size=None):
        """The backbone this section describes, fresh weights; `image_size`
        (height, width) overrides the section's."""
        variant = get_variant(self.backbone)
        height, width = image_size or self.image_size
        kwargs = dict(
            min_level=self.min_level, max_level=self.max_level,
            activation=self.activation,
            init_stochastic_depth_rate=self.init_stochastic_depth_rate,
            use_sync_bn=self.use_sync_bn, norm_momentum=self.norm_momentum,
            norm_epsilon=self.norm_epsilon, kernel_regularizer=kernel_regularizer)
        if self.filter_size_scale is not None:
            kwargs["filter_size_scale"] = self.filter_size_scale
        if self.endpoints_num_filters is not None:
            kwargs["endpoints_num_filters"] = self.endpoints_num_filters
        if self.block_specs is not None:
            kwargs["block_specs"] = [
                (level, block_fn, tuple(offsets), is_output)
                for level, block_fn, offsets, is_output in self.block_specs]
        return variant.build((height, width), flavor=self.flavor, **kwargs)

    def build(self, losses=None, name=None):
        """The family's model with fresh weights (`losses`: the family's
        `losses:` section, default its defaults)."""
        raise NotImplementedError


@dataclasses.dataclass
class LossesConfig:
    """What every family's `losses:` section has: weight decay."""

    # L2 as the reference applies it: kernel_regularizer l2(l2_weight_decay / 2).
    l2_weight_decay: float = bounded(0.0, at_least=0.0)

    MOVED_KEYS: typing.ClassVar[typing.Dict[str, str]] = {}

    def validate(self, where, experiment):
        """Rules that tie fields together (none here)."""

    def kernel_regularizer(self):
        """The reference's L2: `l2(l2_weight_decay / 2)` on conv and dense kernels."""
        decay = self.l2_weight_decay
        return keras.regularizers.L2(decay / 2.0) if decay else None


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

    def validate(self, where, name):
        check_choice(self.source, DATA_SOURCES, f"{name}.source", where)
        if self.aug_scale_min > self.aug_scale_max:
            raise ConfigError(
                f"{where}: {name}.aug_scale_min ({self.aug_scale_min}) must not exceed "
                f"{name}.aug_scale_max ({self.aug_scale_max}).")


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

    def validate(self, where):
        check_choice(self.type, OPTIMIZERS, "optimizer.type", where)
        if len(self.values) != len(self.boundaries) + 1:
            raise ConfigError(
                f"{where}: optimizer.values needs one more entry than "
                f"optimizer.boundaries; received {self.values} and {self.boundaries}.")


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
    # `spinenet_tf.utils.hardware.auto_mixed_precision`).
    mixed_precision: typing.Optional[str] = None
    # XLA for the train step: "auto" (Keras' default: on unless op
    # determinism is on), true or false. On CPU, XLA is slow for the
    # depthwise convolutions of SpineNet-Mobile (docs/benchmarks.md).
    jit_compile: typing.Union[str, bool] = "auto"
    eval_max_images: typing.Optional[int] = bounded(None, at_least=1)

    def validate(self, where):
        if self.train_steps % self.checkpoint_every:
            raise ConfigError(
                f"{where}: trainer.train_steps ({self.train_steps}) must be a "
                f"multiple of trainer.checkpoint_every ({self.checkpoint_every}).")
        if self.eval_every and self.eval_every % self.checkpoint_every:
            raise ConfigError(
                f"{where}: trainer.eval_every ({self.eval_every}) must be a "
                f"multiple of trainer.checkpoint_every ({self.checkpoint_every}).")
        if self.jit_compile not in ("auto", True, False):
            raise ConfigError(f"{where}: trainer.jit_compile must be 'auto', true or "
                              f"false; received {self.jit_compile!r}.")
        check_choice(self.mixed_precision, MIXED_PRECISIONS, "trainer.mixed_precision",
                     where)
