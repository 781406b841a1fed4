"""SpineNet-Mobile backbone (Du et al. 2020, arXiv 2010.11426)."""

import keras

from spinenet_tf.backbones import block_specs as specs_lib
from spinenet_tf.backbones.scale_permuted_backbone import ScalePermutedBackbone
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
class SpineNetMobile(ScalePermutedBackbone):
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
        se_inner_activation, se_gating_activation: the squeeze-excitation's
            activations: "relu" and "hard_sigmoid" (Model Garden, the
            default) or "swish" and "sigmoid" (the TPU model zoo).
        conv_padding: "same" (Model Garden, the default) or "fixed" (the TPU
            model zoo's symmetric padding of strided convs).
        activation: "relu", "swish" or "hard_swish".
        init_stochastic_depth_rate: see `SpineNet`.
        use_sync_bn, norm_momentum, norm_epsilon: batch-norm settings.
        kernel_initializer, kernel_regularizer: for all conv kernels.
        form: "trainable", "folded" (the inference form: convs with
            biases, no batch norms) or "quantization_aware" (a `LayerForm`);
            `spinenet_tf.inference_model` makes a folded copy of a trained
            model.
        output_dtype: cast the endpoints to this dtype (default: the
            policy's compute dtype).
        dtype: dtype policy of the layers (default: the global policy),
            serialised with the model.
    """

    family = "SpineNet-Mobile"
    scaling_map = SCALING_MAP
    default_block_specs = specs_lib.SPINENET_MOBILE_BLOCK_SPECS
    block_fns = specs_lib.MOBILE_BLOCK_FNS
    filter_size_map = FILTER_SIZE_MAP
    spec_levels = [level for level in FILTER_SIZE_MAP if level >= 1]
    activations = ("relu", "swish", "hard_swish")
    option_defaults = {"se_ratio": 0.2, "expand_ratio": 6,
                       "se_inner_activation": "relu",
                       "se_gating_activation": "hard_sigmoid"}
    default_name = "spinenet_mobile"

    def _block_group(self, arch, x, in_filters, out_filters, strides, prefix,
                     drop_rate):
        for r in range(arch.scaling["block_repeats"]):
            x = MBConvBlock(
                in_filters=in_filters if r == 0 else out_filters,
                out_filters=out_filters,
                strides=strides if r == 0 else 1,
                expand_ratio=arch.options["expand_ratio"],
                se_ratio=arch.options["se_ratio"],
                se_inner_activation=arch.options["se_inner_activation"],
                se_gating_activation=arch.options["se_gating_activation"],
                stochastic_depth_rate=drop_rate,
                name=f"{prefix}_mbconv{r + 1}",
                **arch.factory.layer_kwargs(),
            )(x)
        return x

    def build_stem(self, inputs, arch):
        factory = arch.factory
        x = factory.conv(arch.block_filters(0), 3, 2, "stem_conv")(inputs)
        x = factory.batch_norm("stem_bn")(x)
        x = factory.activation_layer("stem_activation")(x)
        stem_maps = []
        for g, (level, strides) in enumerate(zip(STEM_LEVELS, STEM_STRIDES)):
            x = self._block_group(arch, x, arch.block_filters(level - 1),
                                  arch.block_filters(level), strides,
                                  f"stem{g + 1}", 0.0)
            stem_maps.append(x)
        return stem_maps, list(STEM_LEVELS)

    def build_resampling(self, arch, feature, parent, parent_level, spec, index,
                         input_index):
        return DepthwiseResampling(
            output_filters=arch.block_filters(spec.level),
            level_change=spec.level - parent_level,
            name=f"block{index + 1}_resample{input_index}",
            **arch.factory.layer_kwargs(),
        )(feature)

    def build_block_group(self, arch, x, spec, index):
        filters = arch.block_filters(spec.level)
        return self._block_group(arch, x, filters, filters, 1, f"block{index + 1}",
                                 self.stochastic_depth_rate(arch, index))
