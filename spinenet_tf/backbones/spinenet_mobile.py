"""SpineNet-Mobile backbone (Du et al. 2020, arXiv 2010.11426)."""

import keras

from spinenet_tf.backbones import block_specs as specs_lib
from spinenet_tf.backbones import scale_permuted_network as spn
from spinenet_tf.layers.conv_norm_layer import ConvNormFactory
from spinenet_tf.layers.depthwise_resampling import DepthwiseResampling
from spinenet_tf.layers.mbconv_block import MBConvBlock

# Block width per level before `filter_size_scale`.
FILTER_SIZE_MAP = {0: 8, 1: 16, 2: 24, 3: 40, 4: 80, 5: 112, 6: 112, 7: 112}

SCALING_MAP = {
    "49": dict(endpoints_num_filters=48, filter_size_scale=1.0, block_repeats=1),
    "49S": dict(endpoints_num_filters=40, filter_size_scale=0.65, block_repeats=1),
    "49XS": dict(endpoints_num_filters=24, filter_size_scale=0.6, block_repeats=1),
}

# The stem: a stride-2 conv to level 1, then MBConv groups at L1 and L2.
STEM_LEVELS = (1, 2)
STEM_STRIDES = (1, 2)


@keras.saving.register_keras_serializable(package="spinenet_tf")
class SpineNetMobile(keras.Model):
    """SpineNet-Mobile: SpineNet's search space with MBConv blocks.

    Stem: 3x3 stride-2 conv -> BN -> act, an MBConv at L1 and a stride-2
    MBConv to L2. Every block of `block_specs` is an MBConv (expand 6,
    squeeze-excitation 0.2 with hard-sigmoid gating); cross-scale connections
    resample with depthwise stride-2 convs or nearest upsampling, then a 1x1
    projection. Endpoints: 1x1 conv + BN + act to `endpoints_num_filters`.

    Blocks above `max_level` are built at their own level (the reference
    clamps them to `max_level` and mutates its global spec table while doing
    so); with the default specs and max_level=7 the two are identical.

    Example:
    ```python
    backbone = spinenet_tf.SpineNetMobile("49", input_shape=(384, 384, 3))
    ```

    Args:
        model_id: "49", "49S" or "49XS".
        input_shape: (height, width, channels); height and width multiples of
            2**(coarsest block level) or None.
        min_level, max_level: endpoint levels to return.
        block_specs: custom block specs (block type "mbconv"); None = paper's.
        endpoints_num_filters, filter_size_scale, block_repeats: override the
            scaling of `model_id`.
        se_ratio, expand_ratio: MBConv settings (0.2 and 6 in the paper).
        activation: "relu", "swish" or "hard_swish".
        init_stochastic_depth_rate: see `SpineNet`.
        use_sync_bn, norm_momentum, norm_epsilon: batch-norm settings.
        kernel_initializer, kernel_regularizer: for all conv kernels.
        dtype: dtype policy of the layers.
    """

    def __init__(
        self,
        model_id="49",
        input_shape=(None, None, 3),
        min_level=3,
        max_level=7,
        block_specs=None,
        endpoints_num_filters=None,
        filter_size_scale=None,
        block_repeats=None,
        se_ratio=0.2,
        expand_ratio=6,
        activation="relu",
        init_stochastic_depth_rate=0.0,
        use_sync_bn=False,
        norm_momentum=0.99,
        norm_epsilon=1e-3,
        kernel_initializer="VarianceScaling",
        kernel_regularizer=None,
        dtype=None,
        name=None,
        **kwargs,
    ):
        family = f"SpineNet-Mobile-{model_id}"
        scaling = spn.resolve_scaling(
            model_id, SCALING_MAP, "SpineNet-Mobile",
            dict(endpoints_num_filters=endpoints_num_filters,
                 filter_size_scale=filter_size_scale,
                 block_repeats=block_repeats),
        )
        specs = specs_lib.validate_block_specs(
            specs_lib.SPINENET_MOBILE_BLOCK_SPECS if block_specs is None
            else block_specs,
            specs_lib.MOBILE_BLOCK_FNS,
            [level for level in FILTER_SIZE_MAP if level >= 1],
        )
        spn.check_levels(min_level, max_level, specs, family)
        coarsest = max(s.level for s in specs)
        input_shape = spn.check_input_shape(input_shape, 2**coarsest, family)
        factory = ConvNormFactory(
            activation, kernel_initializer, kernel_regularizer, use_sync_bn,
            norm_momentum, norm_epsilon, dtype=dtype,
        )
        scale = scaling["filter_size_scale"]
        repeats = scaling["block_repeats"]

        def block_filters(level):
            return int(FILTER_SIZE_MAP[level] * scale)

        def block_group(x, in_filters, out_filters, strides, prefix, drop_rate):
            for r in range(repeats):
                x = MBConvBlock(
                    in_filters=in_filters if r == 0 else out_filters,
                    out_filters=out_filters,
                    strides=strides if r == 0 else 1,
                    expand_ratio=expand_ratio,
                    se_ratio=se_ratio,
                    stochastic_depth_rate=drop_rate,
                    name=f"{prefix}_mbconv{r + 1}",
                    **factory.layer_kwargs(),
                )(x)
            return x

        # === Functional Model ===
        inputs = keras.Input(shape=input_shape, name="images")
        x = factory.conv(block_filters(0), 3, 2, "stem_conv")(inputs)
        x = factory.batch_norm("stem_bn")(x)
        x = factory.activation_layer("stem_activation")(x)
        stem_maps = []
        for g, (level, strides) in enumerate(zip(STEM_LEVELS, STEM_STRIDES)):
            x = block_group(x, block_filters(level - 1), block_filters(level),
                            strides, f"stem{g + 1}", 0.0)
            stem_maps.append(x)

        def resample(feature, parent, parent_level, spec, index, input_index):
            return DepthwiseResampling(
                output_filters=block_filters(spec.level),
                level_change=spec.level - parent_level,
                name=f"block{index + 1}_resample{input_index}",
                **factory.layer_kwargs(),
            )(feature)

        def spec_block_group(x, spec, index):
            filters = block_filters(spec.level)
            return block_group(
                x, filters, filters, 1, f"block{index + 1}",
                spn.stochastic_depth_rate(
                    init_stochastic_depth_rate, index, len(specs)),
            )

        features = spn.build_scale_permuted_network(
            stem_maps, list(STEM_LEVELS), specs, resample, spec_block_group,
            factory.activation, dtype,
        )
        endpoints = spn.build_endpoints(
            features, min_level, max_level, scaling["endpoints_num_filters"],
            factory,
        )
        super().__init__(
            inputs=inputs,
            outputs=endpoints,
            name=name or f"spinenet_mobile_{str(model_id).lower()}",
            **kwargs,
        )

        # === Config ===
        self.model_id = str(model_id)
        self.image_shape = input_shape
        self.min_level = min_level
        self.max_level = max_level
        self.block_specs = specs
        self.endpoints_num_filters = scaling["endpoints_num_filters"]
        self.filter_size_scale = scale
        self.block_repeats = repeats
        self.se_ratio = se_ratio
        self.expand_ratio = expand_ratio
        self.init_stochastic_depth_rate = init_stochastic_depth_rate
        self.factory = factory

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "model_id": self.model_id,
            "input_shape": self.image_shape,
            "min_level": self.min_level,
            "max_level": self.max_level,
            "block_specs": specs_lib.block_specs_to_config(self.block_specs),
            "endpoints_num_filters": self.endpoints_num_filters,
            "filter_size_scale": self.filter_size_scale,
            "block_repeats": self.block_repeats,
            "se_ratio": self.se_ratio,
            "expand_ratio": self.expand_ratio,
            "init_stochastic_depth_rate": self.init_stochastic_depth_rate,
            **self.factory.get_config(),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("block_specs") is not None:
            config["block_specs"] = specs_lib.block_specs_from_config(
                config["block_specs"])
        return cls(**config)
