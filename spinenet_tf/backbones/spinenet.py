"""SpineNet backbone (Du et al., CVPR 2020)."""

import keras

from spinenet_tf.backbones import block_specs as specs_lib
from spinenet_tf.backbones import scale_permuted_network as spn
from spinenet_tf.layers.bottleneck_block import BottleneckBlock
from spinenet_tf.layers.conv_norm_layer import ConvNormFactory, check_activation
from spinenet_tf.layers.cross_scale_resampling import CrossScaleResampling
from spinenet_tf.layers.residual_block import ResidualBlock

# Block width per level before `filter_size_scale` (bottlenecks output 4x).
FILTER_SIZE_MAP = {1: 32, 2: 64, 3: 128, 4: 256, 5: 256, 6: 256, 7: 256}

SCALING_MAP = {
    "49S": dict(endpoints_num_filters=128, filter_size_scale=0.65,
                resample_alpha=0.5, block_repeats=1),
    "49": dict(endpoints_num_filters=256, filter_size_scale=1.0,
               resample_alpha=0.5, block_repeats=1),
    "96": dict(endpoints_num_filters=256, filter_size_scale=1.0,
               resample_alpha=0.5, block_repeats=2),
    "143": dict(endpoints_num_filters=256, filter_size_scale=1.0,
                resample_alpha=1.0, block_repeats=3),
    "143L": dict(endpoints_num_filters=256, filter_size_scale=1.3,
                 resample_alpha=1.0, block_repeats=3),
    "190": dict(endpoints_num_filters=512, filter_size_scale=1.3,
                resample_alpha=1.0, block_repeats=4),
}

BLOCK_CLASSES = {"bottleneck": BottleneckBlock, "residual": ResidualBlock}
STEM_WIDTH = 64
NUM_STEM_BLOCK_GROUPS = 2


@keras.saving.register_keras_serializable(package="spinenet_tf")
class SpineNet(keras.Model):
    """SpineNet: a scale-permuted backbone found by architecture search.

    A stem (7x7 stride-2 conv, max-pool, two L2 bottleneck groups) followed
    by the blocks of `block_specs`, each fusing two resampled parents; the
    output blocks of levels `min_level..max_level` go through a 1x1 conv +
    BN + activation to `endpoints_num_filters` channels.

    Example:
    ```python
    backbone = spinenet_tf.SpineNet("49", input_shape=(640, 640, 3))
    features = backbone(images)  # {"P3": (B, 80, 80, 256), ..., "P7": ...}
    ```

    Args:
        model_id: one of "49S", "49", "96", "143", "143L", "190"; sets the
            scaling below unless overridden.
        input_shape: (height, width, channels); height and width must be
            multiples of 2**(coarsest block level) or None.
        min_level, max_level: the endpoint levels to return.
        block_specs: a custom block-spec list (see `block_specs.py`);
            None = the paper's SpineNet.
        endpoints_num_filters, filter_size_scale, resample_alpha,
            block_repeats: override the scaling of `model_id`.
        activation: "relu" or "swish".
        init_stochastic_depth_rate: stochastic depth of the last block; block
            i (0-based) uses rate * (i + 1) / len(block_specs).
        use_sync_bn: synchronise batch norm across replicas.
        norm_momentum, norm_epsilon: batch-norm settings.
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
        resample_alpha=None,
        block_repeats=None,
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
        family = f"SpineNet-{model_id}"
        scaling = spn.resolve_scaling(
            model_id, SCALING_MAP, "SpineNet",
            dict(endpoints_num_filters=endpoints_num_filters,
                 filter_size_scale=filter_size_scale,
                 resample_alpha=resample_alpha,
                 block_repeats=block_repeats),
        )
        specs = specs_lib.validate_block_specs(
            specs_lib.SPINENET_BLOCK_SPECS if block_specs is None else block_specs,
            specs_lib.SPINENET_BLOCK_FNS,
            FILTER_SIZE_MAP,
        )
        spn.check_levels(min_level, max_level, specs, family)
        coarsest = max(s.level for s in specs)
        input_shape = spn.check_input_shape(input_shape, 2**coarsest, family)
        factory = ConvNormFactory(
            check_activation(activation, ("relu", "swish")),
            kernel_initializer, kernel_regularizer, use_sync_bn,
            norm_momentum, norm_epsilon, dtype=dtype,
        )
        scale = scaling["filter_size_scale"]
        repeats = scaling["block_repeats"]
        alpha = scaling["resample_alpha"]

        def block_filters(level):
            return int(FILTER_SIZE_MAP[level] * scale)

        def block_fn_of(map_index):
            if map_index < specs_lib.NUM_STEM_MAPS:
                return "bottleneck"
            return specs[map_index - specs_lib.NUM_STEM_MAPS].block_fn

        def block_group(x, block_fn, filters, prefix, drop_rate):
            block_class = BLOCK_CLASSES[block_fn]
            for r in range(repeats):
                x = block_class(
                    filters=filters,
                    use_projection=x.shape[-1] != filters * block_class.expansion,
                    stochastic_depth_rate=drop_rate,
                    name=f"{prefix}_{block_fn}{r + 1}",
                    **factory.layer_kwargs(),
                )(x)
            return x

        # === Functional Model ===
        inputs = keras.Input(shape=input_shape, name="images")
        x = factory.conv(STEM_WIDTH, 7, 2, "stem_conv")(inputs)
        x = factory.batch_norm("stem_bn")(x)
        x = factory.activation_layer("stem_activation")(x)
        x = keras.layers.MaxPooling2D(
            3, 2, padding="same", dtype=dtype, name="stem_pool")(x)
        stem_maps = []
        for g in range(NUM_STEM_BLOCK_GROUPS):
            x = block_group(x, "bottleneck", block_filters(2), f"stem{g + 1}", 0.0)
            stem_maps.append(x)

        def resample(feature, parent, parent_level, spec, index, input_index):
            parent_width = feature.shape[-1]
            if block_fn_of(parent) == "bottleneck":
                parent_width /= 4
            target = block_filters(spec.level)
            if spec.block_fn == "bottleneck":
                target *= 4
            return CrossScaleResampling(
                filters=int(parent_width * alpha),
                output_filters=target,
                level_change=spec.level - parent_level,
                name=f"block{index + 1}_resample{input_index}",
                **factory.layer_kwargs(),
            )(feature)

        def spec_block_group(x, spec, index):
            return block_group(
                x, spec.block_fn, block_filters(spec.level), f"block{index + 1}",
                spn.stochastic_depth_rate(
                    init_stochastic_depth_rate, index, len(specs)),
            )

        features = spn.build_scale_permuted_network(
            stem_maps, [2] * len(stem_maps), specs, resample, spec_block_group,
            factory.activation, dtype,
        )
        endpoints = spn.build_endpoints(
            features, min_level, max_level, scaling["endpoints_num_filters"],
            factory,
        )
        super().__init__(
            inputs=inputs,
            outputs=endpoints,
            name=name or f"spinenet_{str(model_id).lower()}",
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
        self.resample_alpha = alpha
        self.block_repeats = repeats
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
            "resample_alpha": self.resample_alpha,
            "block_repeats": self.block_repeats,
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
