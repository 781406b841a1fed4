"""`inference_model`: batch norm folded into the convs (float32: the same
function; bfloat16: close, float32 in and out), on every variant family."""

import keras
import numpy as np
import pytest
from support import TINY_SIZE, random_images, randomize_batch_norm

from spinenet_tf import RetinaNet, SpineNet, SpineNetClassifier, SpineNetMobile, inference_model
from spinenet_tf.quantization.inference_form import batch_norm_pairs
from spinenet_tf.utils.model_complexity import count_macs

SHAPE = (TINY_SIZE, TINY_SIZE, 3)


def small(builder, model_id, **kwargs):
    options = dict(filter_size_scale=0.25 if builder is SpineNet else 0.5,
                   endpoints_num_filters=16, activation="swish")
    return builder(model_id, input_shape=SHAPE, **{**options, **kwargs})


def flat_outputs(model, x):
    outputs = model(x, training=False)
    if isinstance(outputs, dict) and "class_logits" in outputs:
        return {f"{kind}/{level}": value for kind, levels in outputs.items()
                for level, value in levels.items()}
    if isinstance(outputs, dict):
        return outputs
    return {"logits": outputs}


def relative_differences(expected, received):
    return {key: float(np.max(np.abs(np.asarray(expected[key]) - np.asarray(received[key])))
                       / np.max(np.abs(np.asarray(expected[key]))))
            for key in expected}


# Every family and every block kind: SpineNet's residual and bottleneck
# blocks, resampling up and down, alpha 0.5 and 1, block repeats (143);
# SpineNet-Mobile's MBConv (depthwise, squeeze-excitation) and depthwise
# resampling (the RetinaNet tests below add Mobile-49S with swish).
BACKBONES = {
    "spinenet-49S": lambda: small(SpineNet, "49S"),
    "spinenet-143": lambda: small(SpineNet, "143", filter_size_scale=0.1),
    "mobile-49XS": lambda: SpineNetMobile("49XS", input_shape=SHAPE, activation="relu"),
}


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_folded_backbone_equals_the_original_on_every_level(name):
    backbone = BACKBONES[name]()
    randomize_batch_norm(backbone, seed=1)
    x = random_images(SHAPE, batch=2)
    folded = inference_model(backbone)
    assert not [layer for layer in folded._flatten_layers()
                if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(batch_norm_pairs(backbone)) == sum(
        isinstance(layer, keras.layers.BatchNormalization)
        for layer in backbone._flatten_layers())
    differences = relative_differences(flat_outputs(backbone, x), flat_outputs(folded, x))
    assert sorted(differences) == [f"P{level}" for level in range(3, 8)]
    assert max(differences.values()) <= 1e-5, differences


@pytest.mark.slow
@pytest.mark.parametrize("separable", [False, True], ids=["conv-head", "separable-head"])
def test_folded_retinanet_equals_the_original_and_counts_the_same_macs(separable):
    backbone = (small(SpineNetMobile, "49S") if separable else small(SpineNet, "49S"))
    model = RetinaNet(backbone, num_classes=5, head_num_convs=2, head_num_filters=16,
                      use_separable_conv=separable)
    randomize_batch_norm(model, seed=2)
    rng = np.random.default_rng(0)
    for variable in model.head.class_predictor.weights + model.head.box_predictor.weights:
        variable.assign(rng.normal(0.0, 0.3, variable.shape).astype("float32"))
    x = random_images(SHAPE, batch=2)
    folded = inference_model(model)
    differences = relative_differences(flat_outputs(model, x), flat_outputs(folded, x))
    assert len(differences) == 10 and max(differences.values()) <= 1e-5, differences
    # Each level has its own tower convs now; the arithmetic is the same.
    assert sorted(folded.head.class_convs) == [f"P{level}" for level in range(3, 8)]
    assert count_macs(folded) == count_macs(model)
    # Detections: the strongest scores (random weights tie lower ones).
    scores = model.predict(x, verbose=0)["detection_scores"][:, :5]
    folded_scores = folded.predict(x, verbose=0)["detection_scores"][:, :5]
    np.testing.assert_allclose(scores, folded_scores, atol=1e-4)


def test_folded_classifier_equals_the_original_and_returns_float32_in_bfloat16():
    model = SpineNetClassifier(small(SpineNet, "49S"), num_classes=7,
                               add_head_batch_norm=True)
    randomize_batch_norm(model, seed=3)
    x = random_images(SHAPE, batch=2)
    differences = relative_differences(flat_outputs(model, x),
                                       flat_outputs(inference_model(model), x))
    assert max(differences.values()) <= 1e-5, differences
    assert str(np.asarray(inference_model(model, "bfloat16")(x)).dtype) == "float32"


@pytest.mark.slow
def test_bfloat16_form_computes_in_bfloat16_with_float32_outputs_and_serialises(tmp_path):
    model = RetinaNet(SpineNetMobile("49XS", input_shape=SHAPE, activation="swish"),
                      num_classes=5, head_num_convs=1, head_num_filters=16,
                      use_separable_conv=True)
    randomize_batch_norm(model, seed=4)
    x = random_images(SHAPE, batch=2)
    fast = inference_model(model, "bfloat16")
    assert {v.dtype for v in fast.backbone.weights} == {"bfloat16"}
    assert {v.dtype for v in fast.head.weights} == {"bfloat16"}
    assert fast.input.dtype == "float32"
    outputs = flat_outputs(fast, x)
    assert {str(np.asarray(v).dtype) for v in outputs.values()} == {"float32"}
    # bfloat16 keeps 8 bits of mantissa: close, not equal.
    differences = relative_differences(flat_outputs(model, x), outputs)
    assert max(differences.values()) <= 0.05, differences
    assert fast.predict(x, verbose=0)["detection_boxes"].dtype == np.float32
    backbone = inference_model(model.backbone, "bfloat16")
    assert {str(np.asarray(v).dtype) for v in backbone(x).values()} == {"float32"}

    path = str(tmp_path / "bfloat16.keras")
    fast.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.backbone.factory.form.folds_batch_norm and loaded.head.form.folds_batch_norm
    received = flat_outputs(loaded, x)
    for key in outputs:
        np.testing.assert_array_equal(np.asarray(outputs[key]), np.asarray(received[key]))
    # Folding a folded model changes only its precision.
    again = flat_outputs(inference_model(loaded, "float32"), x)
    assert max(relative_differences(outputs, again).values()) <= 0.05


def test_bad_arguments_say_what_was_received():
    with pytest.raises(ValueError, match=r"`precision` must be one of .*'float16'"):
        inference_model(small(SpineNetMobile, "49XS"), "float16")
    with pytest.raises(TypeError, match="received a Dense"):
        inference_model(keras.layers.Dense(3))
