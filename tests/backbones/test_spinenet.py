"""SpineNet / SpineNet-Mobile builders: shapes, inputs, errors, serialization."""

import keras
import numpy as np
import pytest
from support import (
    SHORT_BLOCK_SPECS,
    SHORT_MOBILE_BLOCK_SPECS,
    assert_config_round_trip,
    assert_keras_save_load,
    random_images,
)

from spinenet_tf import SpineNet, SpineNetMobile


def _fusion_inputs(model, block):
    return len(model.get_layer(f"block{block}_fusion")._inbound_nodes[0].input_tensors)


def test_spinenet_outputs_every_level_at_its_stride():
    model = SpineNet("49S", input_shape=(128, 256, 3))
    out = model(random_images((128, 256, 3), batch=1))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        f"P{l}": (1, 128 // 2**l, 256 // 2**l, 128) for l in range(3, 8)}


def test_mobile_outputs_every_level_at_its_stride():
    model = SpineNetMobile("49XS", input_shape=(128, 128, 3), min_level=4, max_level=6)
    assert {k: tuple(v.shape) for k, v in model.output.items()} == {
        f"P{l}": (None, 128 // 2**l, 128 // 2**l, 24) for l in range(4, 7)}


@pytest.mark.parametrize("shape,fixed", [((None, None, 3), (128, 128, 3))])
def test_dynamic_spatial_dims_give_the_fixed_size_model(shape, fixed):
    dynamic = SpineNet("49S", input_shape=shape)
    static = SpineNet("49S", input_shape=fixed)
    static.set_weights(dynamic.get_weights())
    x = random_images(fixed, batch=1)
    for key, value in static(x).items():
        np.testing.assert_allclose(dynamic(x)[key], value, atol=1e-5)
    # Another size through the same dynamic model.
    assert dynamic(random_images((256, 128, 3), batch=1))["P7"].shape == (1, 2, 1, 128)


def test_zero_outdegree_block_is_merged_into_the_l5_output():
    # SpineNet-49: map 11 (block 10, L5) has no consumer when the L5 output
    # block (block 13) is built, so it is summed into it: three inputs.
    for shape in [(128, 128, 3), (None, None, 3)]:
        model = SpineNet("49", input_shape=shape)
        assert _fusion_inputs(model, 13) == 3
        assert _fusion_inputs(model, 12) == 2


def test_stochastic_depth_rate_grows_linearly_with_block_index():
    model = SpineNet("49S", input_shape=(128, 128, 3), init_stochastic_depth_rate=0.2)
    rates = [model.get_layer(f"block{i}_{fn}1").stochastic_depth_rate
             for i, fn in [(1, "bottleneck"), (2, "residual"), (15, "bottleneck")]]
    np.testing.assert_allclose(rates, [0.2 * 1 / 16, 0.2 * 2 / 16, 0.2 * 15 / 16])
    assert model.get_layer("stem1_bottleneck1").stochastic_depth_rate == 0.0


def test_block_repeats_build_repeated_blocks():
    model = SpineNet("96", input_shape=(128, 128, 3))  # block_repeats 2
    names = {layer.name for layer in model.layers}
    assert {"block3_bottleneck1", "block3_bottleneck2", "stem2_bottleneck2"} <= names
    assert "block3_bottleneck3" not in names and "stem2_bottleneck3" not in names


def test_layer_names_are_predictable():
    model = SpineNet("49", input_shape=(128, 128, 3))
    names = {layer.name for layer in model.layers}
    assert {"stem_conv", "stem_bn", "stem_pool", "stem1_bottleneck1",
            "block1_resample0", "block2_residual1", "block13_fusion",
            "P3_conv", "P7_activation"} <= names


@pytest.mark.parametrize("build,message", [
    (lambda: SpineNet("50"), r"Unknown SpineNet model_id '50'.*'49S'"),
    (lambda: SpineNetMobile("96"), r"Unknown SpineNet-Mobile model_id '96'"),
    (lambda: SpineNet("49", input_shape=(100, 128, 3)),
     r"multiple of 128.*received input_shape=\(100, 128, 3\)"),
    (lambda: SpineNet("49", input_shape=(640, 640)), r"received \(640, 640\)"),
    (lambda: SpineNet("49", min_level=2, max_level=8),
     r"levels \[8\].*no output block.*\[2, 3, 4, 5, 6, 7\]"),
    (lambda: SpineNet("49", min_level=5, max_level=3), "min_level <= max_level"),
    (lambda: SpineNet("49", activation="hard_swish"), "received 'hard_swish'"),
    (lambda: SpineNet("49", block_specs=[(3, "mbconv", (0, 1), True)]),
     r"block_specs\[0\].*'mbconv'"),
    (lambda: SpineNet("49", init_stochastic_depth_rate=1.5), "received 1.5"),
])
def test_bad_arguments_say_what_was_received(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_levels_2_to_7_use_the_l2_output_block():
    model = SpineNet("49S", input_shape=(128, 128, 3), min_level=2)
    assert model.output["P2"].shape == (None, 32, 32, 128)


# The short block-spec lists: a user's own list goes through the config too.
@pytest.mark.parametrize("build", [
    lambda: SpineNet("49S", input_shape=(128, 128, 3), activation="swish",
                     init_stochastic_depth_rate=0.1, block_specs=SHORT_BLOCK_SPECS,
                     kernel_regularizer=keras.regularizers.L2(4e-5)),
    lambda: SpineNetMobile("49XS", input_shape=(128, 128, 3), block_specs=SHORT_MOBILE_BLOCK_SPECS,
                           activation="hard_swish", use_sync_bn=True),
], ids=["spinenet", "mobile"])
@pytest.mark.slow
def test_config_round_trip_and_keras_file_give_same_outputs(build, tmp_path):
    model = build()
    restored = assert_config_round_trip(model)
    restored.set_weights(model.get_weights())
    x = random_images((128, 128, 3), batch=1)
    for key, value in model(x).items():
        np.testing.assert_allclose(restored(x)[key], value, atol=1e-6)
    assert_keras_save_load(model, x, tmp_path)


def test_kernel_regularizer_reaches_every_conv():
    model = SpineNetMobile("49XS", input_shape=(128, 128, 3),
                           kernel_regularizer=keras.regularizers.L2(1e-4))
    convs = [l for l in model._flatten_layers() if type(l) is keras.layers.Conv2D]
    assert convs and all(l.kernel_regularizer is not None for l in convs)
    assert len(model.losses) == len(convs)


@pytest.mark.parametrize("build,policy", [
    (lambda dtype: SpineNet("49S", input_shape=(128, 128, 3), filter_size_scale=0.25,
                            endpoints_num_filters=16, block_specs=SHORT_BLOCK_SPECS,
                            dtype=dtype), "mixed_bfloat16"),
    (lambda dtype: SpineNetMobile("49XS", input_shape=(128, 128, 3),
                                  block_specs=SHORT_MOBILE_BLOCK_SPECS, dtype=dtype),
     "mixed_float16"),
], ids=["spinenet-bfloat16", "mobile-float16"])
@pytest.mark.slow
def test_mixed_precision_policies_are_built_and_serialised(build, policy, tmp_path):
    import keras

    model = build(policy)
    compute = policy.split("_")[1]
    assert model.get_config()["dtype"]["config"]["name"] == policy
    assert {l.dtype_policy.name for l in model.layers if l.weights} == {policy}
    assert all(v.dtype == "float32" for v in model.trainable_variables)
    images = random_images((128, 128, 3))
    outputs = model(images, training=False)
    assert {keras.backend.standardize_dtype(v.dtype) for v in outputs.values()} == {compute}
    restored = assert_config_round_trip(model)
    assert restored.get_layer("stem_conv").dtype_policy.name == policy
    loaded = assert_keras_save_load(model, images, str(tmp_path))
    assert loaded.get_layer("P3_conv").dtype_policy.name == policy
    # The global policy at construction is what a model without `dtype` keeps.
    keras.config.set_dtype_policy(policy)
    try:
        implicit = build(None)
    finally:
        keras.config.set_dtype_policy("float32")
    assert implicit.get_config()["dtype"]["config"]["name"] == policy
    assert type(model).from_config(implicit.get_config()).get_layer(
        "stem_conv").dtype_policy.name == policy
