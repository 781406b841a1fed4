"""SpineNet backbone (Du et al., CVPR 2020)."""

import keras

from spinenet_tf.backbones import block_specs as specs_lib
from spinenet_tf.backbones.scale_permuted_backbone import ScalePermutedBackbone
from spinenet_tf.layers.bottleneck_block import BottleneckBlock
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
class SpineNet(ScalePermutedBackbone):
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
        downsampling: how a cross-scale connection pools after its
            strided conv: "chained_pools" (Model Garden, the default) or
            "single_pool" (the TPU model zoo; see `CrossScaleResampling`).
        conv_padding: "same" (Model Garden, the default) or "fixed" (the TPU
            model zoo's symmetric padding of strided convs).
        form: "trainable", "folded" (the inference form: convs with
            biases, no batch norms) or "quantization_aware" (a `LayerForm`);
            `spinenet_tf.inference_model` makes a folded copy of a trained
            model.
        output_dtype: cast the endpoints to this dtype (default: the
            policy's compute dtype).
        dtype: dtype policy of the layers ("mixed_bfloat16", ...; default:
            the global policy), serialised with the model.
    """

    family = "SpineNet"
    scaling_map = SCALING_MAP
    default_block_specs = specs_lib.SPINENET_BLOCK_SPECS
    block_fns = specs_lib.SPINENET_BLOCK_FNS
    filter_size_map = FILTER_SIZE_MAP
    default_name = "spinenet"
    option_defaults = {"downsampling": "chained_pools"}

    def _block_group(self, arch, x, block_fn, filters, prefix, drop_rate):
        block_class = BLOCK_CLASSES[block_fn]
        for r in range(arch.scaling["block_repeats"]):
            x = block_class(
                filters=filters,
                use_projection=x.shape[-1] != filters * block_class.expansion,
                stochastic_depth_rate=drop_rate,
                name=f"{prefix}_{block_fn}{r + 1}",
                **arch.factory.layer_kwargs(),
            )(x)
        return x

    def build_stem(self, inputs, arch):
        factory = arch.factory
        x = factory.conv(STEM_WIDTH, 7, 2, "stem_conv")(inputs)
        x = factory.batch_norm("stem_bn")(x)
        x = factory.activation_layer("stem_activation")(x)
        x = keras.layers.MaxPooling2D(
            3, 2, padding="same", dtype=factory.dtype, name="stem_pool")(x)
        stem_maps = []
        for g in range(NUM_STEM_BLOCK_GROUPS):
            x = self._block_group(arch, x, "bottleneck", arch.block_filters(2),
                                  f"stem{g + 1}", 0.0)
            stem_maps.append(x)
        return stem_maps, [2] * NUM_STEM_BLOCK_GROUPS

    def build_resampling(self, arch, feature, parent, parent_level, spec, index,
                         input_index):
        parent_is_bottleneck = (parent < specs_lib.NUM_STEM_MAPS or arch.specs[
            parent - specs_lib.NUM_STEM_MAPS].block_fn == "bottleneck")
        parent_width = feature.shape[-1] / (4 if parent_is_bottleneck else 1)
        target = arch.block_filters(spec.level)
        if spec.block_fn == "bottleneck":
            target *= 4
        return CrossScaleResampling(
            filters=int(parent_width * arch.scaling["resample_alpha"]),
            output_filters=target,
            level_change=spec.level - parent_level,
            downsampling=arch.options["downsampling"],
            name=f"block{index + 1}_resample{input_index}",
            **arch.factory.layer_kwargs(),
        )(feature)

    def build_block_group(self, arch, x, spec, index):
        return self._block_group(
            arch, x, spec.block_fn, arch.block_filters(spec.level),
            f"block{index + 1}", self.stochastic_depth_rate(arch, index))
