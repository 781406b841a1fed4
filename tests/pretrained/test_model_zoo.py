"""The TPU model zoo's TF1 checkpoints load into the TPU-flavour models and
give the original code's outputs.

The data in `model_zoo/` was written by `tools/make_model_zoo_fixtures.py`,
which runs tensorflow/tpu's own architecture code in a TF1 graph: scaled-down
checkpoints with random weights and batch-norm statistics, the outputs of
that code on a fixed input at non-square even sizes, and the variable names
and shapes of every full-size catalog entry.
"""

import functools
import json
import pathlib

import numpy as np
import pytest
from support import assert_names_cover_exactly, assert_same_instances, read_manifest

from spinenet_tf import registry
from spinenet_tf.backbones.model_zoo_names import spinenet_names
from spinenet_tf.backbones.spinenet import SpineNet
from spinenet_tf.backbones.spinenet_mobile import SpineNetMobile
from spinenet_tf.backbones.variants import TPU_SPINENET_MOBILE_OPTIONS, TPU_SPINENET_OPTIONS
from spinenet_tf.models.classifier.checkpoint_names import model_zoo_names as classifier_names
from spinenet_tf.models.classifier.spinenet_classifier import SpineNetClassifier
from spinenet_tf.models.retinanet.retinanet import RetinaNet
from spinenet_tf.pretrained import build_preset_model, model_zoo_names
from spinenet_tf.pretrained.tf1_checkpoint import load_named_variables

DATA = pathlib.Path(__file__).parent / "model_zoo"
# RetinaNets and classifiers (the Mask R-CNN fixtures: test_model_zoo_maskrcnn.py).
SMALL_MODELS = sorted(p.name for p in DATA.iterdir() if (p / "settings.json").exists()
                      and not p.name.startswith("maskrcnn"))
RTOL = 1e-4


def build_small(name, retinanet_options=None, **overrides):
    """Our TPU-flavour model for a scaled-down fixture's settings
    (`overrides`: backbone arguments)."""
    settings = json.loads((DATA / name / "settings.json").read_text())
    height, width = settings["image_size"]
    mobile = settings.get("backbone") == "spinenet_mbconv"
    options = {**(TPU_SPINENET_MOBILE_OPTIONS if mobile else TPU_SPINENET_OPTIONS),
               **overrides}
    backbone = (SpineNetMobile if mobile else SpineNet)(
        "49", input_shape=(height, width, 3), activation=settings["activation"],
        norm_momentum=settings["batch_norm"]["momentum"],
        norm_epsilon=settings["batch_norm"]["epsilon"],
        **settings["spinenet"], **options)
    head = settings["head"]
    if settings["family"] == "classifier":
        return SpineNetClassifier(backbone, head["num_classes"],
                                  aggregation=head["aggregation"])
    return RetinaNet(
        backbone, head["num_classes"], head_num_convs=head["num_convs"],
        head_num_filters=head["num_filters"],
        use_separable_conv=head.get("use_separable_conv", False),
        num_scales=settings["anchors"]["num_scales"],
        aspect_ratios=settings["anchors"]["aspect_ratios"],
        anchor_size=settings["anchors"].get("anchor_size", 3.0),
        **{"pixel_inclusive_boxes": True, **detection_options(settings),
           **(retinanet_options or {})})


def detection_options(settings):
    detections = settings.get("detections")
    if not detections:
        return {}
    return dict(pre_nms_top_k=detections["pre_nms_top_k"],
                pre_nms_score_threshold=detections["score_threshold"],
                nms_iou_threshold=detections["nms_iou_threshold"],
                max_detections=detections["max_detections"])


def outputs_of(model, image):
    """{name: array} named as the fixture's outputs."""
    features = model.backbone(image, training=False)
    outputs = {key: np.asarray(value) for key, value in features.items()}
    if isinstance(model, SpineNetClassifier):
        outputs["logits"] = np.asarray(model(image, training=False))
        return outputs
    class_logits, box_deltas = model.head(features, training=False)
    for level in class_logits:
        outputs[f"class_{level}"] = np.asarray(class_logits[level])
        outputs[f"box_{level}"] = np.asarray(box_deltas[level])
    return outputs


def relative_error(ours, theirs):
    return float(np.abs(ours - theirs).max() / np.abs(theirs).max())


@pytest.mark.parametrize("name", SMALL_MODELS)
def test_checkpoint_gives_the_original_outputs(name):
    model = build_small(name)
    skipped = load_named_variables(str(DATA / name / "model.ckpt"),
                                   model_zoo_names(model), name)
    assert set(skipped) == {"global step", "optimizer slot"}
    reference = np.load(DATA / name / "outputs.npz")
    ours = outputs_of(model, reference["image"])
    # The head and backbone outputs (detections: test_detections_are_the_originals).
    expected = sorted(k for k in reference.files
                      if k != "image" and not k.startswith(("detection_", "num_")))
    assert sorted(ours) == expected
    for key in expected:
        assert ours[key].shape == reference[key].shape, key
        assert np.abs(reference[key]).max() > 1e-3, f"{key} is trivially small"
        assert relative_error(ours[key], reference[key]) <= RTOL, key


@pytest.mark.parametrize("pixel_inclusive", [True, False])
def test_detections_are_the_originals(pixel_inclusive):
    """The TPU RetinaNet's own post-processing (its anchors, box convention
    and NMS) on its head outputs gives our decoder's detections; Model
    Garden's box convention in its place does not."""
    name = "retinanet_spinenet_relu"
    settings = json.loads((DATA / name / "settings.json").read_text())
    model = build_small(name, retinanet_options=dict(pixel_inclusive_boxes=pixel_inclusive))
    load_named_variables(str(DATA / name / "model.ckpt"), model_zoo_names(model), name)
    reference = dict(np.load(DATA / name / "outputs.npz"))
    outputs = model(reference["image"], training=False)
    detections = model.detection_generator(
        outputs["class_logits"], outputs["box_deltas"],
        model.anchors_for(reference["image"]), image_size=settings["content_size"])
    count = int(reference["num_detections"][0])
    assert count >= 10 and len(set(reference["detection_classes"][0, :count])) >= 2
    if not pixel_inclusive:
        with pytest.raises(AssertionError):
            assert_same_instances(detections, reference)
        return
    assert assert_same_instances(detections, reference) >= 0.8 * count


@pytest.mark.parametrize("name, option", [
    ("retinanet_spinenet_relu", dict(conv_padding="same")),
    ("retinanet_spinenet_relu", dict(downsampling="chained_pools")),
    ("retinanet_spinenet_mobile", dict(conv_padding="same")),
    ("retinanet_spinenet_mobile", dict(se_inner_activation="relu",
                                       se_gating_activation="hard_sigmoid")),
])
def test_each_tpu_convention_changes_the_outputs(name, option):
    """The fixtures discriminate: Model Garden's padding, pooling or
    squeeze-excitation, with the same weights, misses the original outputs
    by more than ten times the parity tolerance (the pooling shows only
    where a connection goes three levels down: SpineNet-49's L4 -> L7, so
    in P7)."""
    model = build_small(name, **option)
    load_named_variables(str(DATA / name / "model.ckpt"), model_zoo_names(model), name)
    reference = np.load(DATA / name / "outputs.npz")
    ours = outputs_of(model, reference["image"])
    worst = max(relative_error(ours[key], reference[key])
                for key in ours if key.startswith("P"))
    assert worst > 10 * RTOL


def manifest(entry_name):
    return read_manifest(DATA / "manifests" / f"{entry_name}.txt.gz")


FULL_SIZE = sorted(p.name[: -len(".txt.gz")] for p in (DATA / "manifests").iterdir())


def _distinct_architectures():
    """One entry per distinct manifest: the "-best" files differ from the
    others in activation and training only, not in variables."""
    first = {}
    for name in FULL_SIZE:
        key = tuple(sorted((n, tuple(s)) for n, s in manifest(name).items()))
        first.setdefault(key, name)
    return sorted(first.values())


def test_every_loadable_model_zoo_entry_has_a_manifest():
    loadable = sorted(e.name for e in registry.presets().values()
                      if e.loadable and e.source == "tpu-model-zoo")
    assert FULL_SIZE == loadable
    # Six RetinaNets (49S, 49, 96, 143, 190, Mobile-49), four classifiers
    # and four Mask R-CNNs (49, 96, 143, 190).
    assert len(_distinct_architectures()) == 14


RETINANETS = [name for name in _distinct_architectures() if name.startswith("retinanet")]


@pytest.mark.parametrize("entry_name", RETINANETS)
def test_full_size_mapping_covers_exactly_the_original_variables(entry_name):
    assert_names_cover_exactly(build_preset_model(entry_name, image_size=128), manifest(entry_name))


@pytest.mark.parametrize("entry_name", sorted(
    name for name in _distinct_architectures() if name.startswith("classifier")))
def test_full_size_classifier_mapping_covers_exactly_the_original_variables(entry_name):
    """A classifier's backbone is its RetinaNet twin's, variable for variable
    (so the RetinaNet tests above cover it: building each again would cost a
    minute of CI); the head adds `classification_head/dense`, which our
    classifier maps and nothing else."""
    entry = registry.get_preset(entry_name)
    twin = next(name for name in RETINANETS if registry.get_preset(name).variant == entry.variant)
    theirs = manifest(entry_name)
    backbone = {n: s for n, s in theirs.items() if n.startswith("spinenet/")}
    assert backbone == {n: s for n, s in manifest(twin).items() if n.startswith("spinenet/")}
    endpoints = manifest(twin)["retinanet/class_net/class-0/kernel"][2]
    assert {n: s for n, s in theirs.items() if n not in backbone} == {
        "classification_head/dense/kernel": [endpoints, entry.model.num_classes],
        "classification_head/dense/bias": [entry.model.num_classes]}
    assert set(classifier_names(model_with_head())) - set(
        spinenet_names(model_with_head().backbone)) == set(theirs) - set(backbone)


@functools.lru_cache(maxsize=1)
def model_with_head():
    return build_small("classifier_spinenet_swish")


def test_tpu_flavour_is_in_the_config_and_survives_folding():
    """The options serialise with the backbone, and the folded inference
    form (what export serves) computes the same outputs."""
    from spinenet_tf import inference_model

    name = "retinanet_spinenet_relu"
    model = build_small(name)
    load_named_variables(str(DATA / name / "model.ckpt"), model_zoo_names(model), name)
    config = model.backbone.get_config()
    assert (config["conv_padding"], config["downsampling"]) == ("fixed", "single_pool")
    assert len(config["block_specs"]) == 15
    rebuilt = SpineNet.from_config(config)
    assert rebuilt.get_config() == config
    reference = np.load(DATA / name / "outputs.npz")
    folded = inference_model(model.backbone)
    assert folded.get_config()["conv_padding"] == "fixed"
    for key, value in folded(reference["image"], training=False).items():
        assert relative_error(np.asarray(value), reference[key]) <= RTOL, key
