"""RetinaNet and SpineNetClassifier behaviour: training, inference, errors,
serialization. (Equality with tf-models-official: test_model_garden_parity.py.)"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from support import SHORT_MOBILE_BLOCK_SPECS as SHORT
from support import assert_config_round_trip

from spinenet_tf import RetinaNet, SpineNet, SpineNetClassifier, SpineNetMobile
from spinenet_tf.models.classifier import SparseCategoricalCrossentropyWithSmoothing

SIZE = 128


def tiny_retinanet(num_classes=4, **kwargs):
    backbone = SpineNetMobile("49XS", input_shape=(SIZE, SIZE, 3), block_specs=SHORT)
    return RetinaNet(backbone, num_classes, head_num_convs=2, head_num_filters=16,
                     use_separable_conv=True, **kwargs)


def shapes_batch(batch=4, seed=0):
    """Images with one or two bright rectangles; boxes / classes padded to 3."""
    rng = np.random.default_rng(seed)
    images = rng.normal(0, 0.1, (batch, SIZE, SIZE, 3)).astype("float32")
    boxes = np.zeros((batch, 3, 4), "float32")
    classes = -np.ones((batch, 3), "int32")
    for i in range(batch):
        for j in range(1 + i % 2):
            y, x = rng.integers(0, SIZE - 48, 2)
            h, w = rng.integers(24, 48, 2)
            cls = 1 + (i + j) % 3
            images[i, y:y + h, x:x + w, cls - 1] += 2.0
            boxes[i, j] = (y, x, y + h, x + w)
            classes[i, j] = cls
    return images, {"boxes": boxes, "classes": classes}


@pytest.mark.slow
def test_fit_lowers_the_loss_and_reports_both_terms():
    model = tiny_retinanet()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    images, targets = shapes_batch()
    dataset = tf.data.Dataset.from_tensors((images, targets)).repeat()
    history = model.fit(dataset, steps_per_epoch=4, epochs=4, verbose=0).history
    assert set(history) >= {"loss", "class_loss", "box_loss"}
    assert history["loss"][-1] < 0.95 * history["loss"][0]
    assert history["box_loss"][-1] < history["box_loss"][0]
    # Inference-mode loss through `evaluate` uses the same targets.
    result = model.evaluate(images, targets, batch_size=4, verbose=0, return_dict=True)
    assert np.isfinite(result["loss"]) and result["class_loss"] > 0


def test_optimizer_is_built_before_the_first_step_from_the_variables_trainable_then():
    """Slot variables made eagerly, not inside the traced step, and for the
    variables trainable at the first step (a part frozen after `compile`
    gets none and stays as it was)."""
    model = tiny_retinanet()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.backbone.trainable = False
    model.make_train_function()
    assert model.optimizer.built
    # The step counter, the learning rate and two moments a trainable variable.
    assert 0 < len(model.trainable_variables) < len(model.variables)
    assert len(model.optimizer.variables) == 2 + 2 * len(model.trainable_variables)
    frozen = [np.copy(w) for w in model.backbone.get_weights()]
    images, targets = shapes_batch()
    model.train_on_batch(images, targets)
    assert all(np.array_equal(a, b) for a, b in zip(frozen, model.backbone.get_weights()))


def test_predict_returns_valid_padded_detections():
    model = tiny_retinanet(max_detections=20, pre_nms_score_threshold=0.3)
    # Make some anchors fire: class logits up to ~ +2 over the image.
    model.head.class_predictor.bias.assign(
        np.linspace(-3, 2, model.head.class_predictor.bias.shape[0]).astype("float32"))
    images, _ = shapes_batch(batch=3)
    out = model.predict(images, batch_size=3, verbose=0)
    assert out["detection_boxes"].shape == (3, 20, 4)
    assert out["detection_classes"].dtype == np.int32
    for b in range(3):
        n = out["num_detections"][b]
        assert 0 < n <= 20
        scores = out["detection_scores"][b]
        assert np.all(np.diff(scores[:n]) <= 0) and np.all(scores[:n] > 0.3)
        assert not scores[n:].any() and not out["detection_boxes"][b, n:].any()
        assert not out["detection_classes"][b, n:].any()
        boxes = out["detection_boxes"][b, :n]
        assert boxes.min() >= 0 and boxes.max() <= SIZE
        assert np.all(boxes[:, 2] >= boxes[:, 0]) and np.all(boxes[:, 3] >= boxes[:, 1])
        assert set(out["detection_classes"][b, :n]) <= {1, 2, 3}  # never background


def test_raw_outputs_are_per_level_maps():
    model = tiny_retinanet(num_classes=6)
    out = model(np.zeros((1, SIZE, SIZE, 3), "float32"))
    for level in range(3, 8):
        side = SIZE // 2**level
        assert tuple(out["class_logits"][f"P{level}"].shape) == (1, side, side, 9 * 6)
        assert tuple(out["box_deltas"][f"P{level}"].shape) == (1, side, side, 9 * 4)


def test_head_starts_at_the_prior_probability():
    model = tiny_retinanet()
    logits = model(np.zeros((1, SIZE, SIZE, 3), "float32"))["class_logits"]["P3"]
    np.testing.assert_allclose(keras.ops.sigmoid(logits), 0.01, atol=1e-3)


def test_levels_missing_from_the_backbone_are_a_clear_error():
    backbone = SpineNetMobile("49XS", input_shape=(SIZE, SIZE, 3), max_level=6)
    with pytest.raises(ValueError, match=r"need backbone features P3\.\.P7.*missing \['P7'\]"):
        RetinaNet(backbone, 4, max_level=7)
    model = RetinaNet(backbone, 4, head_num_filters=8)  # follows the backbone
    assert model.max_level == 6 and model.head.levels[-1] == "P6"


def test_unequal_feature_widths_are_a_clear_error():
    inputs = keras.Input((64, 64, 3))
    p3 = keras.layers.Conv2D(8, 3, strides=8, padding="same")(inputs)
    p4 = keras.layers.Conv2D(16, 3, strides=2, padding="same")(p3)
    backbone = keras.Model(inputs, {"P3": p3, "P4": p4})
    with pytest.raises(ValueError, match="same number of channels"):
        RetinaNet(backbone, 3, min_level=3, max_level=4)


def test_targets_and_loss_arguments_are_checked():
    model = tiny_retinanet()
    with pytest.raises(ValueError, match="computes its own loss"):
        model.compile(optimizer="sgd", loss="mse")
    model.compile()
    images, targets = shapes_batch(batch=2)
    with pytest.raises(ValueError, match="expects targets"):
        model.compute_loss(images, targets["boxes"])
    with pytest.raises(ValueError, match="not divisible"):
        model.anchors_for(np.zeros((1, 100, 128, 3)))


def test_retinanet_config_and_keras_file_round_trip(tmp_path):
    model = tiny_retinanet(num_classes=5, anchor_size=4.0, max_detections=30)
    restored = assert_config_round_trip(model)
    assert restored.anchor_generator.anchor_size == 4.0
    path = str(tmp_path / "retinanet.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    images, _ = shapes_batch(batch=1)
    expected, received = model(images), loaded(images)
    for key in expected:
        for level in expected[key]:
            np.testing.assert_allclose(received[key][level], expected[key][level], atol=1e-6)
    assert loaded.detection_generator.max_detections == 30


def test_named_configurations_follow_the_recipes():
    model = RetinaNet.from_variant("spinenet-mobile-49xs", num_classes=5)
    assert model.backbone.image_shape == (256, 256, 3)
    assert model.use_separable_conv and model.head_num_filters == 24
    assert model.activation == "swish"
    with pytest.raises(ValueError, match="No paper RetinaNet for spinenet-143l"):
        RetinaNet.from_variant("spinenet-143l")


@pytest.mark.slow
def test_classifier_pools_the_coarsest_level_and_trains():
    backbone = SpineNetMobile("49XS", input_shape=(64 * 2, 128, 3), max_level=6,
                              block_specs=SHORT)
    model = SpineNetClassifier(backbone, 3, dropout_rate=0.2, label_smoothing=0.1)
    assert model.pooled_level == "P6"
    assert tuple(model.output.shape) == (None, 3)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 8)
    images = rng.normal(0, 0.1, (8, 128, 128, 3)).astype("float32")
    images[np.arange(8), :, :, labels] += 1.0
    history = model.fit(images, labels, epochs=3, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert_config_round_trip(model)


def test_label_smoothing_loss_equals_keras_categorical_crossentropy():
    logits = np.array([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0]], "float32")
    labels = np.array([0, 2])
    loss = SparseCategoricalCrossentropyWithSmoothing(3, label_smoothing=0.1)
    expected = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)(
        np.eye(3)[labels], logits)
    np.testing.assert_allclose(loss(labels, logits), expected, rtol=1e-6)


def test_classifier_rejects_bad_arguments():
    backbone = SpineNet("49S", input_shape=(128, 128, 3), filter_size_scale=0.25,
                        endpoints_num_filters=16)
    with pytest.raises(ValueError, match="dropout_rate.*received 1.5"):
        SpineNetClassifier(backbone, 10, dropout_rate=1.5)
    with pytest.raises(ValueError, match="num_classes.*received 0"):
        SpineNetClassifier(backbone, 0)


def test_task_models_serialise_their_mixed_precision_policy(tmp_path):
    def backbone(policy):
        return SpineNetMobile("49XS", input_shape=(SIZE, SIZE, 3), dtype=policy,
                              block_specs=SHORT)

    models = {"mixed_bfloat16": RetinaNet(backbone("mixed_bfloat16"), 4, head_num_convs=1,
                                          head_num_filters=8, use_separable_conv=True,
                                          dtype="mixed_bfloat16"),
              "mixed_float16": SpineNetClassifier(backbone("mixed_float16"), 3,
                                                  dtype="mixed_float16")}
    images, _ = shapes_batch(batch=1)
    for policy, model in models.items():
        restored = assert_config_round_trip(model)
        assert restored.get_config()["dtype"]["config"]["name"] == policy
        assert restored.backbone.get_layer("stem_conv").dtype_policy.name == policy
        path = str(tmp_path / f"{model.name}.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        head_layers = [l for l in loaded.layers if l is not loaded.backbone and l.weights]
        assert head_layers and {l.dtype_policy.name for l in head_layers} == {policy}
        for got, want in zip(keras.tree.flatten(loaded(images)),
                             keras.tree.flatten(model(images))):
            np.testing.assert_array_equal(got, want)
    detections = models["mixed_bfloat16"].predict(images, verbose=0)
    assert detections["detection_scores"].dtype == np.float32


@pytest.mark.slow
def test_bfloat16_mixed_precision_training_follows_float32():
    """The train step under `mixed_bfloat16` (what `trainer.mixed_precision:
    bfloat16` sets): float32 variables and losses, a first loss within
    bfloat16 rounding of float32's from the same weights, and SGD steps
    that lower it as float32's do, to within 3%."""
    def build(policy):
        backbone = SpineNetMobile("49XS", input_shape=(SIZE, SIZE, 3), dtype=policy,
                                  block_specs=SHORT)
        model = RetinaNet(backbone, 4, head_num_convs=1, head_num_filters=16,
                          use_separable_conv=True, dtype=policy)
        model.compile(optimizer=keras.optimizers.Adam(2e-3), jit_compile=False)
        return model

    images, targets = shapes_batch()
    float32, bfloat16 = build("float32"), build("mixed_bfloat16")
    bfloat16.set_weights(float32.get_weights())
    assert {v.dtype for v in bfloat16.variables} == {"float32"}
    losses = {}
    for name, model in (("float32", float32), ("bfloat16", bfloat16)):
        losses[name] = [model.train_on_batch(images, targets, return_dict=True)
                        for _ in range(4)]
    first, last = losses["float32"][0]["loss"], losses["float32"][-1]["loss"]
    assert last < first
    assert abs(losses["bfloat16"][0]["loss"] - first) < 0.02 * first
    assert abs(losses["bfloat16"][-1]["loss"] - last) < 0.03 * last
    assert {v.dtype for v in bfloat16.variables} == {"float32"}
    moving = [v for v in bfloat16.non_trainable_variables if "moving_variance" in v.path]
    assert moving and all(np.isfinite(v.numpy()).all() for v in moving)
