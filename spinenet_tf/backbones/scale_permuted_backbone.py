"""The base class of SpineNet and SpineNet-Mobile."""

import types

import keras

from spinenet_tf.backbones import block_specs as specs_lib
from spinenet_tf.backbones import scale_permuted_network as spn
from spinenet_tf.layers.conv_norm_layer import ConvNormFactory, check_activation
from spinenet_tf.layers.layer_form import FoldsBatchNorm, folded_config, form_from_legacy_config
from spinenet_tf.layers.norm_activation import NormActivation


def resolve_dtype_policy(dtype):
    """A `keras.DTypePolicy` for `dtype` (a name, a policy, its config, or
    None: the global policy now, so that a model built under a global
    mixed-precision policy serialises it)."""
    if dtype is None:
        return keras.config.dtype_policy()
    return keras.dtype_policies.get(dtype)


class ScalePermutedBackbone(FoldsBatchNorm, keras.Model):
    """A stem, blocks that fuse two resampled parents, one endpoint a level.

    Holds what SpineNet and SpineNet-Mobile share: the scaling table lookup,
    block-spec validation, level and input-size checks, the conv/BN
    settings, the wiring (`scale_permuted_network`), the endpoints and the
    config. A subclass sets the class attributes below and implements
    `build_stem`, `build_resampling` and `build_block_group`; each hook gets
    `arch`, the resolved settings (`arch.factory`, `arch.scaling`,
    `arch.specs`, `arch.options`, `arch.block_filters`).

    Args: as the subclasses document them. Keyword arguments named like the
    keys of `scaling_map`'s entries override the model id's scaling (None:
    its value); those named in `option_defaults` are the family's block
    options; the rest go to `keras.Model`.
    """

    family = None  # "SpineNet", "SpineNet-Mobile"
    scaling_map = {}  # model id -> scaling parameters
    default_block_specs = ()
    block_fns = ()
    filter_size_map = {}  # level -> block width before filter_size_scale
    spec_levels = None  # levels a block spec may use (default: the map's)
    activations = ("relu", "swish")
    option_defaults = {}  # block options of the family and their defaults
    default_name = "scale_permuted"

    def __init__(
        self,
        model_id="49",
        input_shape=(None, None, 3),
        min_level=3,
        max_level=7,
        block_specs=None,
        activation="relu",
        init_stochastic_depth_rate=0.0,
        use_sync_bn=False,
        norm_momentum=0.99,
        norm_epsilon=1e-3,
        kernel_initializer="VarianceScaling",
        kernel_regularizer=None,
        form=None,
        conv_padding="same",
        output_dtype=None,
        dtype=None,
        name=None,
        **kwargs,
    ):
        # One function, keras-hub's layout (settings checked, === Functional
        # Model ===, === Config ===); the wiring itself is
        # `scale_permuted_network`'s.
        scaling_keys = next(iter(self.scaling_map.values()))
        scaling = {key: kwargs.pop(key, None) for key in scaling_keys}
        options = {key: kwargs.pop(key, default)
                   for key, default in self.option_defaults.items()}
        unknown = sorted(set(kwargs) - {"trainable"})
        if unknown:
            raise TypeError(
                f"{self.family} received unknown arguments {unknown}; its "
                f"scaling overrides are {sorted(scaling)}"
                + (f" and its block options {sorted(options)}" if options else "")
                + ".")
        model_id = str(model_id)
        family = f"{self.family}-{model_id}"
        scaling = spn.resolve_scaling(model_id, self.scaling_map, self.family, scaling)
        specs = specs_lib.validate_block_specs(
            self.default_block_specs if block_specs is None else block_specs,
            self.block_fns,
            self.spec_levels or self.filter_size_map,
        )
        spn.check_levels(min_level, max_level, specs, family)
        coarsest = max(s.level for s in specs)
        input_shape = spn.check_input_shape(input_shape, 2**coarsest, family)
        spn.stochastic_depth_rate(init_stochastic_depth_rate, 0, len(specs))
        policy = resolve_dtype_policy(dtype)
        factory = ConvNormFactory(
            check_activation(activation, self.activations), kernel_initializer,
            kernel_regularizer, use_sync_bn, norm_momentum, norm_epsilon,
            form=form, conv_padding=conv_padding, dtype=policy,
        )
        scale = scaling["filter_size_scale"]
        arch = types.SimpleNamespace(
            factory=factory, scaling=scaling, specs=specs, options=dict(options),
            block_filters=lambda level: int(self.filter_size_map[level] * scale),
            init_stochastic_depth_rate=init_stochastic_depth_rate)

        # === Functional Model ===
        inputs = keras.Input(shape=input_shape, name="images")
        stem_maps, stem_levels = self.build_stem(inputs, arch)

        def resample(feature, parent, parent_level, spec, index, input_index):
            return self.build_resampling(
                arch, feature, parent, parent_level, spec, index, input_index)

        def block_group(x, spec, index):
            return self.build_block_group(arch, x, spec, index)

        features = spn.build_scale_permuted_network(
            stem_maps, stem_levels, specs, resample, block_group,
            factory.activation, policy,
        )
        endpoints = spn.build_endpoints(
            features, min_level, max_level, scaling["endpoints_num_filters"], factory)
        if output_dtype is not None:
            endpoints = {
                key: keras.layers.Identity(dtype=output_dtype, name=f"{key}_output")(x)
                for key, x in endpoints.items()}
        super().__init__(inputs=inputs, outputs=endpoints,
                         name=name or f"{self.default_name}_{model_id.lower()}",
                         **kwargs)

        # === Config ===
        self.model_id = model_id
        self.image_shape = input_shape
        self.min_level = min_level
        self.max_level = max_level
        self.block_specs = specs
        self.scaling = scaling
        self.options = dict(options)
        self.init_stochastic_depth_rate = init_stochastic_depth_rate
        self.factory = factory
        self.output_dtype = output_dtype
        for key, value in {**scaling, **options}.items():
            setattr(self, key, value)

    @property
    def norm_activation(self):
        """The activation and batch-norm settings (and layer form) of this
        backbone, which the heads above it follow."""
        factory = self.factory
        return NormActivation(factory.activation, bool(factory.use_sync_bn),
                              float(factory.norm_momentum), float(factory.norm_epsilon),
                              factory.form)

    def stochastic_depth_rate(self, arch, block_index):
        """The reference's linear rule for block `block_index` (0-based)."""
        return spn.stochastic_depth_rate(
            arch.init_stochastic_depth_rate, block_index, len(arch.specs))

    # --- hooks ---------------------------------------------------------

    def build_stem(self, inputs, arch):
        """Returns (stem feature maps, their levels)."""
        raise NotImplementedError

    def build_resampling(self, arch, feature, parent, parent_level, spec, index,
                         input_index):
        """Resamples map `parent` (level `parent_level`) for block `index`."""
        raise NotImplementedError

    def build_block_group(self, arch, x, spec, index):
        """The block group of spec `index`."""
        raise NotImplementedError

    # --- the inference form ----------------------------------------------

    def batch_norm_pairs(self):
        """The stem's and endpoints' pairs (the blocks list their own)."""
        return self.factory.folding_pairs()

    def folded_config(self, form, precision):
        """The config of this backbone in `form` and `precision` ("float32",
        or "bfloat16" with float32 outputs): what `inference_model` builds."""
        config = folded_config(self.get_config(), form, precision)
        config["output_dtype"] = None if precision == "float32" else "float32"
        return config

    # --- serialization -------------------------------------------------

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "model_id": self.model_id,
            "input_shape": self.image_shape,
            "min_level": self.min_level,
            "max_level": self.max_level,
            "block_specs": specs_lib.block_specs_to_config(self.block_specs),
            **self.scaling,
            **self.options,
            "init_stochastic_depth_rate": self.init_stochastic_depth_rate,
            **self.factory.get_config(),
            "output_dtype": self.output_dtype,
            "dtype": keras.dtype_policies.serialize(self.factory.dtype),
        }

    @classmethod
    def from_config(cls, config):
        config = form_from_legacy_config(config)
        if config.get("block_specs") is not None:
            config["block_specs"] = specs_lib.block_specs_from_config(
                config["block_specs"])
        return cls(**config)

