"""Fine-tuning (issue 36): `model.init_from` across class counts for every
family, backbone-only starts (a TPU-code classifier fixture into a
detector), the errors for sources that do not fit, frozen parts through
training and resume, `from_preset(num_classes=N)` and the wrong-preset
check of published files."""

import json
import os
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf
from support import (
    ROOT, SHORT_MOBILE_BLOCK_SPECS, run_command, train_command)

from spinenet_tf import registry
from spinenet_tf.config import config_from_dict, load_config
from spinenet_tf.models.base import task_for_config
from spinenet_tf.models.retinanet.retinanet_head import PRIOR_PROBABILITY
from spinenet_tf.pretrained import build_preset_model, load_named_variables, model_zoo_names
from spinenet_tf.pretrained.preset_check import PresetFileError, PresetFileWarning
from spinenet_tf.training.model_building import build_training_model
from spinenet_tf.training.model_folder import write_model_folder
from spinenet_tf.training.trainer import Trainer
from spinenet_tf.utils.checkpoint_errors import CheckpointMismatchError
from spinenet_tf.utils.variable_paths import variables_by_path

FIXTURES = pathlib.Path(ROOT) / "tests" / "pretrained" / "model_zoo"
# Small models of each family: a section of `model:` keys for each.
SMALL = {"type": "retinanet", "backbone": "spinenet-mobile-49xs", "image_size": [128, 128],
         "block_specs": SHORT_MOBILE_BLOCK_SPECS}
HEADS = {
    "retinanet": dict(head_num_convs=1, head_num_filters=8),
    "maskrcnn": dict(rpn_num_filters=8, box_num_convs=1, box_num_filters=8, box_fc_dims=16,
                     mask_num_convs=1, mask_num_filters=8),
    "cascade_rcnn": dict(rpn_num_filters=8, box_num_convs=1, box_num_filters=8,
                         box_fc_dims=16, mask_num_convs=1, mask_num_filters=8),
    "classifier": {},
}


def small_config(family, num_classes, **model):
    return config_from_dict({"model": {**SMALL, "type": family, "num_classes": num_classes,
                                       **HEADS[family], **model}})


def folder_of(config, folder, seed=0):
    """A model folder (as train.py and convert write them) of `config`'s
    model with random weights, and those weights by path."""
    keras.utils.set_random_seed(seed)
    model = config.model.build()
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign(rng.normal(0, 0.1, weight.shape).astype("float32"))
    write_model_folder(model, config, str(folder))
    return {path: np.asarray(v.numpy()) for path, v in variables_by_path(model).items()}


@pytest.mark.parametrize("family", sorted(HEADS))
def test_init_from_another_class_count_keeps_all_but_the_class_layers(family, tmp_path,
                                                                      capsys):
    source = folder_of(small_config(family, 5), tmp_path / "source")
    config = small_config(family, 3, init_from=str(tmp_path / "source"))
    model = build_training_model(config, task_for_config(config))
    line = capsys.readouterr().out
    class_specific = {id(v) for layer in model.class_specific_layers() for v in layer.weights}
    fresh = config.model.build()  # what a new model starts from
    fresh_values = {p: np.asarray(v.numpy()) for p, v in variables_by_path(fresh).items()}
    reinitialised = []
    for path, variable in variables_by_path(model).items():
        if "seed_generator" in path:
            continue
        if id(variable) in class_specific and source[path].shape != tuple(variable.shape):
            reinitialised.append(path)
            assert not np.array_equal(variable.numpy(), np.zeros(variable.shape)) or (
                "bias" in path), path
            if "bias" in path:  # the fresh model's initial bias
                np.testing.assert_array_equal(variable.numpy(), fresh_values[path], err_msg=path)
        else:
            np.testing.assert_array_equal(variable.numpy(), source[path], err_msg=path)
    assert reinitialised and "re-initialised (another class count)" in line
    assert all(path in line for path in reinitialised)
    if family == "retinanet":
        bias = model.head.class_predictor.bias.numpy()
        np.testing.assert_allclose(bias, -np.log((1 - PRIOR_PROBABILITY) / PRIOR_PROBABILITY),
                                   rtol=1e-6)


def test_a_shape_that_differs_outside_the_class_layers_is_an_error(tmp_path):
    folder_of(small_config("retinanet", 5, head_num_filters=16), tmp_path / "source")
    config = small_config("retinanet", 5, init_from=str(tmp_path / "source"))
    with pytest.raises(CheckpointMismatchError, match=r"does not fit retinanet: [0-9]+ have "
                       r"another shape \(head/box_P3_bn0/beta \(16,\) vs \(8,\)"):
        build_training_model(config, task_for_config(config))


def test_unknown_sources_and_parts_are_errors(tmp_path):
    config = small_config("retinanet", 5, init_from="retinanet-spinenet-94")
    with pytest.raises(FileNotFoundError, match=r"neither a model folder nor a preset \(did "
                       r"you mean 'retinanet-spinenet-96' or 'retinanet-spinenet-49'"):
        build_training_model(config, task_for_config(config))
    folder_of(small_config("retinanet", 5), tmp_path / "source")
    config = small_config("retinanet", 5, init_from=str(tmp_path / "source"),
                          init_parts=["backbone", "neck"])
    with pytest.raises(ValueError, match=r"has no part\(s\) \['neck'\]; its parts are "
                       r"\['backbone', 'head'\]"):
        build_training_model(config, task_for_config(config))


def classifier_fixture_folder(folder):
    """The TPU code's scaled-down classifier fixture (tests/pretrained/
    model_zoo/classifier_spinenet_swish: a SpineNet-49 at scale 0.1 with
    the TPU flavour) loaded into our classifier and written as a model
    folder; returns the config section and the reference outputs."""
    settings = json.loads((FIXTURES / "classifier_spinenet_swish" / "settings.json").read_text())
    section = {"type": "classifier", "backbone": "spinenet-49", "flavor": "tpu",
               "image_size": settings["image_size"], "activation": settings["activation"],
               "filter_size_scale": settings["spinenet"]["filter_size_scale"],
               "endpoints_num_filters": settings["spinenet"]["endpoints_num_filters"],
               "norm_momentum": settings["batch_norm"]["momentum"],
               "norm_epsilon": settings["batch_norm"]["epsilon"],
               "num_classes": settings["head"]["num_classes"],
               "aggregation": settings["head"]["aggregation"]}
    config = config_from_dict({"model": section})
    classifier = config.model.build()
    prefix = str(FIXTURES / "classifier_spinenet_swish" / "model.ckpt")
    load_named_variables(prefix, model_zoo_names(classifier), "fixture")
    write_model_folder(classifier, config, str(folder))
    return section, dict(np.load(FIXTURES / "classifier_spinenet_swish" / "outputs.npz"))


@pytest.mark.slow
def test_a_detector_starts_from_a_tpu_classifiers_backbone(tmp_path):
    """Backbone-only: the detector's backbone computes what the TPU code's
    classifier backbone computed (its recorded outputs), the head starts
    fresh; a source of another flavour or variant is an error naming both."""
    section, reference = classifier_fixture_folder(tmp_path / "classifier")
    detector = {k: v for k, v in section.items() if k not in ("aggregation",)}
    detector.update(type="retinanet", num_classes=4, head_num_convs=1, head_num_filters=8,
                    use_separable_conv=False, anchor_size=3.0,
                    init_from=str(tmp_path / "classifier"), init_parts="backbone")
    config = config_from_dict({"model": detector})
    model = build_training_model(config, task_for_config(config))
    features = model.backbone(reference["image"], training=False)
    for level in range(3, 8):
        np.testing.assert_allclose(features[f"P{level}"], reference[f"P{level}"],
                                   rtol=1e-4, atol=1e-4 * np.abs(reference[f"P{level}"]).max())
    for change, match in ((dict(flavor="model_garden"), r"flavor tpu.*flavor model_garden.*"
                           r"Set model.flavor"),
                          (dict(backbone="spinenet-49s"), r"spinenet-49 backbone.*spinenet-49s"),
                          (dict(activation="relu"), r"activation swish.*activation relu")):
        config = config_from_dict({"model": {**detector, **change}})
        with pytest.raises(ValueError, match=match):
            build_training_model(config, task_for_config(config))
    config = config_from_dict({"model": {**detector, "init_parts": "all"}})
    with pytest.raises(CheckpointMismatchError, match=r"variables of backbone, head are not in "
                       r"it .* init_parts: backbone"):
        build_training_model(config, task_for_config(config))


def trainer_config(data, steps, freeze):
    overrides = [f"model.block_specs={json.dumps(SHORT_MOBILE_BLOCK_SPECS)}",
                 "model.image_size=[128,128]", "model.head_num_convs=1",
                 "model.head_num_filters=8", "train_data.batch_size=4",
                 f"trainer.train_steps={steps}", f"trainer.checkpoint_every={steps // 2}",
                 "trainer.eval_every=0", "optimizer.boundaries=[]", "optimizer.values=[0.01]",
                 "optimizer.warmup_steps=0", f"model.freeze={json.dumps(freeze)}"]
    for key, split in (("train_data", "train"), ("eval_data", "val")):
        overrides += [f"{key}.annotations={os.path.join(data, split, 'annotations.json')}",
                      f"{key}.image_dir={os.path.join(data, split, 'images')}"]
    return load_config(os.path.join(ROOT, "configs", "retinanet_mobile_synthetic_demo.yaml"),
                       overrides)


def test_category_ids_beyond_the_class_count_are_an_error(synthetic_data):
    """The shapes' ids are 1..3: 3 class slots would drop the third class
    from every target without a word."""
    config = trainer_config(synthetic_data, 2, [])
    config.model.num_classes = 3
    with pytest.raises(ValueError, match=r"train_data \(.*annotations.json\) has category ids "
                       r"up to 3, so the model needs num_classes >= 4 .* model.num_classes is "
                       r"3\. Set --set model.num_classes=4\."):
        task_for_config(config).check_data()


@pytest.mark.slow
def test_frozen_parts_stay_bit_identical_through_training_and_resume(synthetic_data,
                                                                     tmp_path):
    """The whole backbone frozen, and only the head's batch norms: after
    training and a resume (which keeps them frozen) the backbone and the
    head's batch norms are bit-identical to their start, the head's convs
    trained."""
    freeze = ["backbone", "head.batch_norm"]
    config = trainer_config(synthetic_data, 2, freeze)
    keras.utils.set_random_seed(config.trainer.seed)  # the trainer's initial weights
    model = build_training_model(config, task_for_config(config))
    start = {p: np.array(v.numpy()) for p, v in variables_by_path(model).items()}
    strategy = tf.distribute.get_strategy()
    Trainer(config, str(tmp_path), strategy, verbose=0).run()
    resumed = Trainer(trainer_config(synthetic_data, 4, freeze), str(tmp_path), strategy,
                      verbose=0)
    resumed.run()  # resumes at step 2, keeping the same parts frozen
    changed = [p for p, v in variables_by_path(resumed.model).items()
               if "seed_generator" not in p and not np.array_equal(v.numpy(), start[p])]
    backbone_paths = set(variables_by_path(model.backbone))
    assert changed and not [p for p in changed if p in backbone_paths], changed
    assert not [p for p in changed if "bn" in p.split("/")[-2]], changed
    assert any("class_logits" in p for p in changed) and any("conv" in p for p in changed)


@pytest.mark.slow
def test_train_py_fine_tunes_a_run_onto_other_classes(trained_run, synthetic_data, tmp_path):
    """A new user's case: a run with 4 class slots, then `--set
    model.init_from=<run>` with 6: the class layer starts fresh, said on
    one line."""
    command = train_command(synthetic_data, str(tmp_path / "tuned"), 2, 2, extra=[
        "--set", f"model.init_from={trained_run}", "--set", "model.num_classes=6"])
    result = run_command(command)
    line = [l for l in result.stdout.splitlines() if l.startswith("Initialised")]
    assert line and "re-initialised (another class count): head/class_logits" in line[0]


def write_tf1(model, prefix, step):
    variables = {name: tf.Variable(variable.numpy())
                 for name, variable in model_zoo_names(model).items()}
    variables["global_step"] = tf.Variable(step, dtype=tf.int64)
    tf.compat.v1.train.Saver(variables).save(None, str(prefix))
    return str(prefix)


@pytest.mark.slow
def test_from_preset_onto_other_classes_and_the_wrong_preset_check(tmp_path):
    """A model-zoo 49S file: loaded as its preset for 3 classes (the class
    layer fresh, everything else the file's); its global step tells the
    relu file from the swish one, which have the same variables."""
    source = build_preset_model("retinanet-spinenet-49s", image_size=128)
    rng = np.random.default_rng(0)
    for weight in source.weights:
        weight.assign(rng.normal(0, 0.1, weight.shape).astype("float32"))
    relu_file = write_tf1(source, tmp_path / "relu" / "model.ckpt", 162050)
    model_class = registry.get_family("retinanet").model_class
    model = model_class.from_preset("retinanet-spinenet-49s", num_classes=3, path=relu_file,
                                    image_size=128)
    assert model.num_classes == 3 and model.pretrained_report["reinitialised"]
    expected = {w.path: w.numpy() for w in source.weights}
    for weight in model.backbone.weights:
        np.testing.assert_array_equal(weight.numpy(), expected[weight.path])
    with pytest.raises(PresetFileError, match=r"trained for 162050 steps: "
                       r"retinanet-spinenet-49s's training length .* load it as "
                       r"retinanet-spinenet-49s\."):
        model_class.from_preset("retinanet-spinenet-49s-best", path=relu_file, image_size=128)
    other = write_tf1(source, tmp_path / "other" / "model.ckpt", 5000)
    with pytest.warns(PresetFileWarning, match=r"records 5000 training steps, not "
                      r"retinanet-spinenet-49s-best's 231500"):
        loaded = model_class.from_preset("retinanet-spinenet-49s-best", path=other,
                                         image_size=128)
    assert loaded.pretrained_report["warnings"]
