"""Mask R-CNN's inference form (backbone batch norm folded) and its
SavedModel: the same detections and masks as the Keras model, behind every
serving signature."""


import keras
import numpy as np
import pytest
import tensorflow as tf
from support import matched_instances as matched
from support import randomize_batch_norm

from spinenet_tf import inference_model
from spinenet_tf.export import export_saved_model
from spinenet_tf.models.maskrcnn import MaskRCNN


def small_maskrcnn():
    keras.utils.set_random_seed(3)
    model = MaskRCNN.from_variant(
        "spinenet-mobile-49xs", num_classes=4, image_size=128, activation="swish",
        rpn_num_filters=16, box_num_convs=1, box_num_filters=16, box_fc_dims=32,
        mask_num_convs=1, mask_num_filters=16, max_detections=10,
        test_proposals=dict(pre_nms_top_k=300, num_proposals=60),
        pre_nms_score_threshold=0.0)
    randomize_batch_norm(model, 1)
    rng = np.random.default_rng(4)
    for layer in (model.box_head.class_predictor, model.mask_head.mask_predictor):
        for weight in layer.weights:
            weight.assign(rng.normal(0, 0.3, weight.shape).astype("float32"))
    return model


@pytest.mark.slow
def test_folded_model_and_saved_model_give_the_keras_detections_and_masks(tmp_path):
    model = small_maskrcnn()
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (2, 96, 128, 3)).astype("uint8")
    prepared = [model.preprocessor.preprocess(tf.constant(p)) for p in pixels]
    images = tf.stack([p[0] for p in prepared])
    info = tf.stack([p[1] for p in prepared])
    keras_out = {k: np.asarray(v) for k, v in model.serving_outputs(images, info).items()}
    assert keras_out["detection_masks"].shape == (2, 10, 28, 28)

    folded = inference_model(model, "float32")
    assert folded.count_params() < model.count_params()  # backbone batch norms gone
    folded_out = {k: np.asarray(v) for k, v in folded.serving_outputs(images, info).items()}
    for b in range(2):
        matched(keras_out, folded_out, b)

    path = export_saved_model(folded, str(tmp_path / "saved"))
    loaded = tf.saved_model.load(path)
    served = {k: v.numpy() for k, v in loaded.signatures["serving_default"](
        images=tf.constant(pixels)).items()}
    for b in range(2):
        matched(keras_out, served, b)
    encoded = [tf.io.encode_png(p).numpy() for p in pixels]
    from_bytes = {k: v.numpy() for k, v in loaded.signatures["serve_encoded_image"](
        encoded_images=tf.constant(encoded)).items()}
    for key in ("detection_boxes", "detection_scores", "detection_masks"):
        np.testing.assert_allclose(from_bytes[key], served[key], atol=1e-5, err_msg=key)


@pytest.mark.slow
def test_saved_model_pastes_masks_into_each_original_image(tmp_path):
    """`paste_masks=True`: `detection_pasted_masks` equals `paste_masks` (the
    evaluation's pasting) of the per-box masks, image by image, for a
    request of two sizes; only a Mask R-CNN takes the option."""
    from support import tiny_detector

    from spinenet_tf.evaluation.mask_pasting import paste_masks

    model = small_maskrcnn()
    path = export_saved_model(model, str(tmp_path / "saved"), paste_masks=True)
    signature = tf.saved_model.load(path).signatures["serve_encoded_image"]
    rng = np.random.default_rng(6)
    sizes = [(96, 128), (150, 70)]
    encoded = [tf.io.encode_png(rng.integers(0, 256, (h, w, 3)).astype("uint8")).numpy()
               for h, w in sizes]
    served = {k: v.numpy() for k, v in signature(encoded_images=tf.constant(encoded)).items()}
    pasted = served["detection_pasted_masks"]
    assert pasted.dtype == np.uint8 and pasted.shape == (2, 10, 150, 128)
    total = 0
    for b, (height, width) in enumerate(sizes):
        count = int(served["num_detections"][b])
        expected = paste_masks(served["detection_masks"][b, :count],
                               served["detection_boxes"][b, :count], height, width)
        np.testing.assert_array_equal(pasted[b, :count, :height, :width], expected)
        assert pasted[b, count:].sum() == 0 and pasted[b, :, height:].sum() == 0
        assert pasted[b, :, :, width:].sum() == 0
        total += int(expected.sum())
    assert total > 100  # masks with pixels, not all empty
    with pytest.raises(ValueError, match="paste_masks pastes the model's detection_masks"):
        export_saved_model(tiny_detector(), str(tmp_path / "retinanet"), paste_masks=True)


def test_bfloat16_inference_form_computes_in_bfloat16_with_float32_outputs(tmp_path):
    model = small_maskrcnn()
    folded = inference_model(model, "bfloat16")
    from spinenet_tf.compat.keras_internals import flatten_layers

    assert {layer.compute_dtype for layer in folded.backbone.layers if layer.weights} == {
        "bfloat16"}
    for head in (folded.rpn_head, folded.box_head, folded.mask_head):
        assert {layer.compute_dtype for layer in flatten_layers(head)
                if layer.weights} == {"bfloat16"}, head.name
    clone = folded.__class__.from_config(folded.get_config())
    assert clone.box_head.compute_dtype == "bfloat16"
    images = np.random.default_rng(6).normal(size=(1, 128, 128, 3)).astype("float32")
    outputs = folded.serving_outputs(images)
    assert outputs["detection_masks"].dtype == "float32"
    assert int(outputs["num_detections"][0]) > 0
