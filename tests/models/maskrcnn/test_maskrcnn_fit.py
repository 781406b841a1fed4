"""Mask R-CNN trains with Keras' `fit` on dicts of images and ground truth."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from support import SHORT_MOBILE_BLOCK_SPECS

from spinenet_tf.models.maskrcnn import MaskRCNN


@pytest.mark.slow
def test_fit_lowers_every_loss_on_a_repeated_batch():
    keras.utils.set_random_seed(0)
    model = MaskRCNN.from_variant(
        "spinenet-mobile-49xs", num_classes=3, image_size=128, rpn_num_filters=16,
        box_num_convs=1, box_num_filters=16, box_fc_dims=32, mask_num_convs=1,
        mask_num_filters=16, block_specs=SHORT_MOBILE_BLOCK_SPECS,
        train_proposals=dict(pre_nms_top_k=300, num_proposals=64),
        sampling=dict(roi_samples_per_image=32, mask_samples_per_image=8, seed=0))
    rng = np.random.default_rng(0)
    masks = np.zeros((2, 2, 112, 112), "float32")
    masks[:, 0, 20:90, 20:90] = 1.0  # a square and a disc, each in its box
    yy, xx = np.mgrid[:112, :112]
    masks[:, 1] = ((yy - 55.5) ** 2 + (xx - 55.5) ** 2 < 50 ** 2)
    batch = dict(images=rng.normal(size=(2, 128, 128, 3)).astype("float32"),
                 boxes=np.array([[[8, 8, 60, 72], [64, 40, 120, 110]]] * 2, "float32"),
                 classes=np.array([[1, 2]] * 2, "int32"), masks=masks)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    history = model.fit(tf.data.Dataset.from_tensors(batch).repeat(), steps_per_epoch=6,
                        epochs=4, verbose=0).history
    assert set(history) >= {"loss", "rpn_score_loss", "rpn_box_loss", "frcnn_class_loss",
                            "frcnn_box_loss", "mask_loss"}
    for term in ("loss", "rpn_score_loss", "frcnn_class_loss", "mask_loss"):
        assert history[term][-1] < 0.9 * history[term][0], (term, history[term])
