"""`LayerForm`, the one option for the trainable, folded and
quantization-aware forms, and files written with the flags it replaced."""

import keras
import pytest

from spinenet_tf import RetinaNet, SpineNetMobile
from spinenet_tf.layers.layer_form import LayerForm, form_from_legacy_config
from spinenet_tf.models.retinanet import RetinaNetHead


def test_forms_and_their_errors():
    assert not LayerForm.get(None).folds_batch_norm
    assert LayerForm.get("folded").folds_batch_norm and not LayerForm.get("folded").fake_quantizes
    assert LayerForm.get(LayerForm("quantization_aware")).fake_quantizes
    with pytest.raises(ValueError, match=r"received 'fold'"):
        LayerForm.get("fold")
    with pytest.raises(ValueError, match=r"received True"):
        LayerForm.get(True)


@pytest.mark.parametrize("flags,form", [
    ({"fold_batch_norm": False, "quantization_aware": False}, "trainable"),
    ({"fold_batch_norm": True, "quantization_aware": False}, "folded"),
    ({"fold_batch_norm": True, "quantization_aware": True}, "quantization_aware")])
def test_files_of_version_0_6_load_in_the_form_they_were_saved_in(flags, form):
    assert form_from_legacy_config({"x": 1, **flags}) == {"x": 1, "form": form}
    config = SpineNetMobile("49XS", input_shape=(128, 128, 3)).get_config()
    del config["form"]
    backbone = SpineNetMobile.from_config({**config, **flags})
    assert backbone.factory.form.name == form
    assert backbone.get_layer("stem_conv").use_bias == (form != "trainable")
    head = RetinaNetHead.from_config({"num_classes": 3, "anchors_per_location": 9,
                                      "num_convs": 1, "num_filters": 8, **flags})
    assert head.form.name == form


def test_the_head_follows_the_backbones_form():
    backbone = SpineNetMobile("49XS", input_shape=(128, 128, 3), form="folded")
    model = RetinaNet(backbone, num_classes=3, head_num_convs=1, head_num_filters=8)
    assert model.head.form.name == "folded" and model.head.batch_norm_pairs() == []
    assert keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(model)).head.form.name == "folded"
