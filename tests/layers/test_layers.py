"""Behaviour of the building-block layers, from first principles."""

import keras
import numpy as np
import pytest
from support import assert_config_round_trip

from spinenet_tf.layers import (
    BottleneckBlock,
    CrossScaleResampling,
    DepthwiseResampling,
    MBConvBlock,
    ResidualBlock,
    SqueezeExcitation,
    StochasticDepth,
)


def _zero_branch(norm):
    """Makes a batch norm output exactly zero (gamma = beta = 0)."""
    norm.gamma.assign(np.zeros(norm.gamma.shape, "float32"))
    norm.beta.assign(np.zeros(norm.beta.shape, "float32"))


def _inputs(shape, seed=0):
    return np.random.default_rng(seed).normal(size=(2,) + shape).astype("float32")


def test_residual_block_identity_shortcut_adds_input():
    block = ResidualBlock(filters=8)
    x = _inputs((8, 8, 8))
    block(x)
    _zero_branch(block.bn2)
    # Branch is zero, so the block is relu(0 + x).
    np.testing.assert_allclose(block(x, training=False), np.maximum(x, 0), atol=1e-6)


def test_residual_block_projection_and_stride():
    block = ResidualBlock(filters=16, strides=2, use_projection=True)
    assert block(_inputs((8, 8, 4))).shape == (2, 4, 4, 16)
    assert block.shortcut_conv.kernel.shape == (1, 1, 4, 16)


def test_bottleneck_block_outputs_four_times_filters():
    block = BottleneckBlock(filters=8, use_projection=True)
    x = _inputs((8, 8, 16))
    assert block(x).shape == (2, 8, 8, 32)
    _zero_branch(block.bn3)
    shortcut = block.shortcut_bn(block.shortcut_conv(x), training=False)
    np.testing.assert_allclose(
        block(x, training=False), np.maximum(shortcut, 0), atol=1e-5)


def test_mbconv_residual_only_when_shapes_match():
    same = MBConvBlock(in_filters=8, out_filters=8)
    x = _inputs((8, 8, 8))
    same(x)
    _zero_branch(same.project_bn)
    # Linear bottleneck: no activation after the add, so the output is x.
    np.testing.assert_allclose(same(x, training=False), x, atol=1e-6)

    strided = MBConvBlock(in_filters=8, out_filters=8, strides=2)
    strided(x)
    _zero_branch(strided.project_bn)
    assert not strided.use_residual
    np.testing.assert_allclose(strided(x, training=False), 0.0, atol=1e-6)


def test_mbconv_widths_follow_expand_and_se_ratios():
    block = MBConvBlock(in_filters=24, out_filters=40, expand_ratio=6, se_ratio=0.2)
    assert block(_inputs((8, 8, 24))).shape == (2, 8, 8, 40)
    assert block.expand_conv.kernel.shape == (1, 1, 24, 144)
    # SE reduces from the block *input* width: int(24 * 0.2) = 4.
    assert block.squeeze_excitation.reduce_conv.kernel.shape == (1, 1, 144, 4)


def test_squeeze_excitation_gate_of_zero_logits_is_half():
    layer = SqueezeExcitation(filters=6, reduction_base_filters=6, se_ratio=0.2)
    x = _inputs((4, 4, 6))
    layer(x)
    for weight in layer.weights:
        weight.assign(np.zeros(weight.shape, "float32"))
    # hard_sigmoid(0) = relu6(3) / 6 = 0.5.
    np.testing.assert_allclose(layer(x), 0.5 * x, atol=1e-6)
    assert layer.reduce_conv.filters == 1  # max(1, int(6 * 0.2))


def test_stochastic_depth_is_identity_at_inference():
    x = np.ones((64, 2, 2, 3), "float32")
    layer = StochasticDepth(0.5, seed=1)
    np.testing.assert_array_equal(layer(x, training=False), x)


def test_stochastic_depth_drops_whole_samples_and_rescales():
    x = np.ones((400, 2, 2, 3), "float32")
    out = np.asarray(StochasticDepth(0.25, seed=3)(x, training=True))
    per_sample = out.reshape(400, -1)
    # Each sample is entirely dropped or entirely kept and scaled by 1/0.75.
    kept = np.all(np.isclose(per_sample, 1 / 0.75), axis=1)
    dropped = np.all(per_sample == 0.0, axis=1)
    assert np.all(kept | dropped)
    assert 0.15 < dropped.mean() < 0.35


def test_stochastic_depth_rejects_bad_rate():
    with pytest.raises(ValueError, match="rate=1.0"):
        StochasticDepth(1.0)


@pytest.mark.parametrize("level_change,size,expected_size,pools", [
    (0, 16, 16, 0), (1, 16, 8, 0), (3, 32, 4, 2), (-2, 4, 16, 0)])
def test_cross_scale_resampling_shapes(level_change, size, expected_size, pools):
    layer = CrossScaleResampling(
        filters=8, output_filters=20, level_change=level_change)
    out = layer(_inputs((size, size, 16)))
    assert out.shape == (2, expected_size, expected_size, 20)
    assert len(layer.pools) == pools
    assert layer.reduce_conv.kernel.shape == (1, 1, 16, 8)


def test_cross_scale_upsampling_is_nearest_neighbour():
    layer = CrossScaleResampling(filters=4, output_filters=4, level_change=-1)
    x = _inputs((3, 3, 4))
    layer(x)
    up = np.asarray(layer.upsample(x))
    np.testing.assert_array_equal(up, np.repeat(np.repeat(x, 2, axis=1), 2, axis=2))


@pytest.mark.parametrize("level_change,expected_size", [(2, 4), (-1, 32), (0, 16)])
def test_depthwise_resampling_shapes(level_change, expected_size):
    layer = DepthwiseResampling(output_filters=12, level_change=level_change)
    assert layer(_inputs((16, 16, 8))).shape == (2, expected_size, expected_size, 12)
    assert len(layer.downsample_layers) == max(level_change, 0)


@pytest.mark.parametrize("layer", [
    ResidualBlock(filters=8, strides=2, use_projection=True,
                  stochastic_depth_rate=0.1, activation="swish",
                  kernel_regularizer=keras.regularizers.L2(4e-5)),
    BottleneckBlock(filters=8, use_projection=True, use_sync_bn=True,
                    norm_momentum=0.9, norm_epsilon=1e-4),
    MBConvBlock(in_filters=8, out_filters=16, strides=2, expand_ratio=4,
                se_ratio=0.25, activation="hard_swish"),
    SqueezeExcitation(filters=12, reduction_base_filters=4, se_ratio=0.5),
    CrossScaleResampling(filters=8, output_filters=16, level_change=-2),
    DepthwiseResampling(output_filters=16, level_change=3),
    StochasticDepth(0.3, seed=7),
], ids=lambda layer: type(layer).__name__)
def test_layer_config_round_trip(layer):
    assert_config_round_trip(layer)


def test_unknown_activation_is_rejected_with_what_was_received():
    with pytest.raises(ValueError, match="received 'gelu'"):
        ResidualBlock(filters=8, activation="gelu")


def _composite_layers(form):
    """A twin pair of each composite layer (fixed padding where it matters)."""
    def make():
        return [
            ResidualBlock(filters=8, strides=2, use_projection=True, form=form,
                          stochastic_depth_rate=0.1, conv_padding="fixed"),
            BottleneckBlock(filters=4, use_projection=True, form=form),
            MBConvBlock(in_filters=8, out_filters=8, expand_ratio=4, se_ratio=0.25,
                        stochastic_depth_rate=0.2, form=form),
            MBConvBlock(in_filters=8, out_filters=16, strides=2, expand_ratio=1,
                        se_ratio=None, form=form),
            SqueezeExcitation(filters=8, reduction_base_filters=4, form=form),
            CrossScaleResampling(filters=4, output_filters=12, level_change=3,
                                 downsampling="single_pool", form=form),
            CrossScaleResampling(filters=4, output_filters=12, level_change=-2, form=form),
            DepthwiseResampling(output_filters=12, level_change=2, form=form),
        ]
    return zip(make(), make())


@pytest.mark.parametrize("form", ["trainable", "folded", "quantization_aware"])
def test_building_from_a_shape_makes_the_weights_and_output_shape_a_call_makes(form):
    """`build(shape)` runs `call` on a symbolic input (no TensorFlow graph
    traced): the weights it makes (paths, shapes, order) and the output
    shape it reports are those of an eager call on a twin layer."""
    x = _inputs((16, 16, 8))
    for built, called in _composite_layers(form):
        built.build((None, 16, 16, 8))
        outputs = called(x)
        assert [(w.path.split("/", 1)[1], w.shape) for w in built.weights] == [
            (w.path.split("/", 1)[1], w.shape) for w in called.weights], built.name
        assert built.compute_output_shape((None, 16, 16, 8)) == (None,) + outputs.shape[1:]


def test_a_functional_model_is_built_without_tracing_the_blocks(monkeypatch):
    """In functional construction a block's `call` sees only symbolic
    `KerasTensor`s (the sublayers build from shapes), not the graph tensors
    of a traced scratch graph."""
    seen = []
    for layer_class in (MBConvBlock, DepthwiseResampling, SqueezeExcitation):
        original = layer_class.call

        def recording(self, inputs, *args, _original=original, **kwargs):
            seen.append(type(inputs).__name__)
            return _original(self, inputs, *args, **kwargs)

        monkeypatch.setattr(layer_class, "call", recording)
    inputs = keras.Input((16, 16, 8))
    x = MBConvBlock(in_filters=8, out_filters=8, se_ratio=0.25)(inputs)
    x = DepthwiseResampling(output_filters=12, level_change=1)(x)
    model = keras.Model(inputs, x)
    assert seen and set(seen) == {"KerasTensor"}, seen
    assert model.output_shape == (None, 8, 8, 12)
