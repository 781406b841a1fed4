"""The catalog, the loader and `spinenet-pretrained`: a model-zoo style
checkpoint goes to a model folder that fine-tuning and export take, and bad
files end in one clear error."""

import dataclasses
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile

import numpy as np
import pytest
import tensorflow as tf
import yaml
from test_model_zoo import DATA, build_small

from spinenet_tf import registry
from spinenet_tf.config import load_config
from spinenet_tf.models.base import task_for_config
from spinenet_tf.models.retinanet.retinanet import RetinaNet
from spinenet_tf.pretrained import (
    PretrainedArchiveError,
    build_preset_model,
    load_pretrained,
    model_zoo_names,
    resolve_checkpoint,
)
from spinenet_tf.pretrained.archives import download
from spinenet_tf.pretrained.preset import catalog_table
from spinenet_tf.pretrained.tf1_checkpoint import load_named_variables
from spinenet_tf.training.checkpoints import (
    CheckpointMismatchError,
    CheckpointReadError,
    load_model_dir,
)
from spinenet_tf.training.model_building import build_training_model

SMALL = "retinanet_spinenet_relu"
ENTRY = "retinanet-spinenet-49s"  # the smallest RetinaNet entry (with the #767 quirk)


def copy_fixture(tmp_path, name=SMALL):
    folder = tmp_path / name
    shutil.copytree(DATA / name, folder)
    return folder


def write_tf1_checkpoint(model, prefix, extra=()):
    """`model`'s weights under their model-zoo names, as tf.train.Saver
    writes them (and `extra` names, each a scalar)."""
    variables = {name: tf.Variable(variable.numpy())
                 for name, variable in model_zoo_names(model).items()}
    variables["global_step"] = tf.Variable(123, dtype=tf.int64)
    for name in extra:
        variables[name] = tf.Variable(0.0)
    tf.compat.v1.train.Saver(variables).save(None, str(prefix))
    return str(prefix)


def test_catalog_lists_every_published_checkpoint():
    families = {}
    for entry in registry.presets().values():
        families.setdefault(entry.family, []).append(entry.name)
        if entry.loadable:
            assert entry.url.startswith("https://storage.googleapis.com/"), entry.name
        else:  # listed with its recipe, but no file was released
            assert entry.url is None and "released no checkpoint" in entry.notes
    # RetinaNet: 4 + 5 "-best" + the TPU mobile + Model Garden's mobile
    # + Model Garden's three TF2 RetinaNets (49 @640, 96 @1024, 143 @1280);
    # Mask R-CNN 49 / 96 / 143 / 190; classifiers 3 + 4 "-best"; Model
    # Garden's Cascade RCNN-RS 49 / 96 / 143 (no checkpoints).
    assert (len(families["retinanet"]), len(families["maskrcnn"]),
            len(families["classifier"]), len(families["cascade_rcnn"])) == (14, 4, 7, 3)
    with pytest.raises(ValueError, match="released no checkpoint"):
        load_pretrained("cascade-rcnn-spinenet-49")
    assert registry.get_preset("retinanet-spinenet-49s").model.endpoints_num_filters == 256


def test_archive_folder_and_prefix_resolve_to_the_same_checkpoint(tmp_path):
    folder = copy_fixture(tmp_path)
    archive = tmp_path / "zoo.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="spinenet-49")
    prefix = str(folder / "model.ckpt")
    assert resolve_checkpoint(prefix) == prefix
    assert resolve_checkpoint(folder) == prefix
    extracted = resolve_checkpoint(archive, cache_dir=tmp_path / "cache")
    assert extracted == str(tmp_path / "cache" / "zoo" / "spinenet-49" / "model.ckpt")
    assert resolve_checkpoint(archive, cache_dir=tmp_path / "cache") == extracted


def test_archive_without_a_checkpoint_is_refused(tmp_path):
    (tmp_path / "README").write_text("no checkpoint here")
    archive = tmp_path / "empty.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "README", arcname="README")
    with pytest.raises(PretrainedArchiveError, match=r"holds no checkpoint"):
        resolve_checkpoint(archive, cache_dir=tmp_path / "cache")
    (tmp_path / "broken.tar.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(FileNotFoundError, match="broken.tar.gz"):
        resolve_checkpoint(tmp_path / "broken.tar.gz")


def test_truncated_data_file_names_the_file(tmp_path):
    folder = copy_fixture(tmp_path)
    data = folder / "model.ckpt.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    model = build_small(SMALL)
    with pytest.raises(CheckpointReadError, match=r"model\.ckpt cannot be read: its "
                       r"data is truncated or corrupt"):
        load_named_variables(str(folder / "model.ckpt"), model_zoo_names(model), SMALL)


def test_another_variants_checkpoint_names_the_mismatch():
    model = build_small("retinanet_spinenet_swish")  # repeats 2: more variables
    weights_before = [w.numpy().copy() for w in model.weights[:5]]
    with pytest.raises(CheckpointMismatchError) as error:
        load_named_variables(str(DATA / SMALL / "model.ckpt"), model_zoo_names(model),
                             "the swish fixture")
    message = str(error.value)
    assert "does not fit the swish fixture" in message
    assert "are not in the file" in message and "spinenet/" in message
    # Nothing was assigned.
    for before, weight in zip(weights_before, model.weights[:5]):
        np.testing.assert_array_equal(before, weight.numpy())


def test_reshaped_and_unused_variables_are_named(tmp_path):
    model = build_small(SMALL)
    names = model_zoo_names(model)
    prefix = write_tf1_checkpoint(model, tmp_path / "extra.ckpt",
                                  extra=["retinanet/class_net/stray/kernel"])
    with pytest.raises(CheckpointMismatchError,
                       match=r"1 variables of the file are not used "
                             r"\(retinanet/class_net/stray/kernel\)"):
        load_named_variables(prefix, names, "the relu fixture")
    reader = tf.train.load_checkpoint(str(DATA / SMALL / "model.ckpt"))
    variables = {n: tf.Variable(reader.get_tensor(n))
                 for n in reader.get_variable_to_shape_map()}
    variables["spinenet/conv2d/kernel"] = tf.Variable(np.zeros((7, 7, 3, 32), "float32"))
    tf.compat.v1.train.Saver(variables).save(None, str(tmp_path / "reshaped.ckpt"))
    with pytest.raises(CheckpointMismatchError,
                       match=r"spinenet/conv2d/kernel \[7, 7, 3, 32\] \(model: "
                             r"\[7, 7, 3, 64\]\)"):
        load_named_variables(str(tmp_path / "reshaped.ckpt"), names, "x")


def test_tf2_checkpoint_given_as_a_model_zoo_file_is_refused(tmp_path):
    model = build_small(SMALL)
    prefix = tf.train.Checkpoint(model=model).write(str(tmp_path / "tf2" / "ckpt"))
    with pytest.raises(CheckpointMismatchError, match=r"is a TF2 object-based "
                       r"checkpoint .* not a TF1 model-zoo checkpoint"):
        load_named_variables(prefix, model_zoo_names(model), SMALL)


@pytest.mark.slow
def test_convert_writes_a_folder_that_fine_tuning_and_export_take(tmp_path):
    """A model-zoo RetinaNet-49S file (written under the original names from a
    model built for the entry) -> `spinenet-pretrained convert` -> a model
    folder: its model.keras has the file's weights, and its config.yaml
    rebuilds the same network, which `model.init_from` initialises."""
    source = build_preset_model(ENTRY, image_size=128)
    for weight in source.weights:  # recognisable values
        weight.assign(np.random.default_rng(len(weight.path)).normal(
            0, 0.1, weight.shape).astype("float32"))
    zoo = tmp_path / "spinenet-49S"
    zoo.mkdir()
    write_tf1_checkpoint(source, zoo / "model.ckpt")
    archive = tmp_path / "spinenet-49S.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(zoo, arcname="spinenet-49S")
    out = tmp_path / "converted"
    result = subprocess.run(
        [sys.executable, "-m", "spinenet_tf.cli.pretrained", "convert", f"--name={ENTRY}",
         f"--checkpoint={archive}", f"--output_dir={out}", "--image_size=128"],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Model folder written: {out}" in result.stdout
    assert "skipped: 1 global step" in result.stdout
    assert sorted(os.listdir(out)) == ["checkpoints", "config.yaml", "model.keras"]
    model, checkpoint = load_model_dir(str(out))
    assert checkpoint.endswith("ckpt-0")
    expected = {w.path: w.numpy() for w in source.weights}
    for weight in model.weights:
        np.testing.assert_array_equal(weight.numpy(), expected[weight.path])
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["model"]["flavor"] == "tpu"
    assert config["model"]["endpoints_num_filters"] == 256
    (tmp_path / "finetune.yaml").write_text(yaml.safe_dump(
        {"model": {**config["model"], "init_from": str(out)}}))
    config = load_config(str(tmp_path / "finetune.yaml"))
    tuned = build_training_model(config, task_for_config(config))
    for weight in tuned.weights:
        np.testing.assert_array_equal(weight.numpy(), expected[weight.path])
    rebuilt = tuned.get_config()  # the TPU flavour's anchors and box convention
    assert rebuilt["aspect_ratios"] == [1.0, 2.0, 0.5] and rebuilt["pixel_inclusive_boxes"]


@pytest.mark.slow
def test_maskrcnn_convert_writes_a_folder_that_rebuilds_the_tpu_network(tmp_path):
    """A model-zoo Mask R-CNN file -> a model folder whose config.yaml
    rebuilds the same TPU-flavour network (anchor order, box convention,
    1000 boxes a class before NMS; SpineNet-190's 2020 RPN tower), which
    `model.init_from` fills with the file's weights."""
    from spinenet_tf.training.model_folder import preset_experiment, write_model_folder

    entry = "maskrcnn-spinenet-49"
    source = build_preset_model(entry, image_size=128)
    for weight in source.weights:  # recognisable values
        weight.assign(np.random.default_rng(len(weight.path)).normal(
            0, 0.1, weight.shape).astype("float32"))
    write_tf1_checkpoint(source, tmp_path / "zoo" / "model.ckpt")
    # What `spinenet-pretrained convert` does (its flags stay out of this process).
    loaded = load_pretrained(entry, path=str(tmp_path / "zoo"), image_size=128)
    out = write_model_folder(loaded, preset_experiment(registry.get_preset(entry), 128),
                             str(tmp_path / "converted"))
    config = yaml.safe_load((pathlib.Path(out) / "config.yaml").read_text())
    assert (config["model"]["type"], config["model"]["flavor"]) == ("maskrcnn", "tpu")
    (tmp_path / "finetune.yaml").write_text(yaml.safe_dump(
        {"model": {**config["model"], "init_from": out}}))
    config = load_config(str(tmp_path / "finetune.yaml"))
    tuned = build_training_model(config, task_for_config(config))
    expected = {w.path: w.numpy() for w in source.weights}
    assert len(tuned.weights) == len(expected)
    for weight in tuned.weights:
        np.testing.assert_array_equal(weight.numpy(), expected[weight.path])
    rebuilt = tuned.get_config()
    for key in ("aspect_ratios", "pre_nms_top_k", "pixel_inclusive_boxes", "num_scales",
                "rpn_norm_each_conv", "box_num_convs", "mask_num_filters"):
        assert rebuilt[key] == source.get_config()[key], key
    assert rebuilt["pixel_inclusive_boxes"] and rebuilt["pre_nms_top_k"] == 1000
    options = registry.get_preset("maskrcnn-spinenet-190").model
    assert (options.rpn_num_convs, options.rpn_norm_each_conv) == (7, False)
    assert (options.box_num_convs, options.mask_num_filters) == (7, 384)


def test_from_preset_refuses_another_family():
    with pytest.raises(ValueError, match="is a classifier checkpoint; RetinaNet loads"):
        RetinaNet.from_preset("classifier-spinenet-49")


@pytest.mark.slow
def test_download_is_cached_and_loads(tmp_path):
    """The entry's archive is fetched once with keras.utils.get_file (here
    from a file:// URL standing for the published one) and read from the
    cache afterwards."""
    source = build_preset_model("classifier-spinenet-49", image_size=128)
    zoo = tmp_path / "zoo" / "spinenet-49-imagenet"
    zoo.mkdir(parents=True)
    write_tf1_checkpoint(source, zoo / "model.ckpt")
    archive = tmp_path / "spinenet-49-imagenet.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(zoo, arcname="spinenet-49-imagenet")
    entry = dataclasses.replace(registry.get_preset("classifier-spinenet-49"),
                                url=archive.as_uri())
    cache = tmp_path / "cache"
    model = load_pretrained(entry, image_size=128, cache_dir=str(cache))
    cached = cache / "models" / "spinenet_tf" / "spinenet-49-imagenet.tar.gz"
    assert cached.exists()
    assert model.pretrained_report["checkpoint"].startswith(str(cache))
    archive.unlink()  # a second load needs no download
    assert download(entry, cache_dir=str(cache)) == str(cached)
    assert model.aggregation == "all"
    assert model.backbone.get_config()["conv_padding"] == "fixed"
    assert model.pretrained_report["skipped"] == {"global step": ["global_step"]}
    for ours, theirs in zip(model.weights, source.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_docs_and_list_show_every_entry():
    docs = (pathlib.Path(__file__).parents[2] / "docs" / "pretrained.md").read_text()
    table = catalog_table(registry.presets().values())
    for name, entry in registry.presets().items():
        assert f"| {name} |" in docs, name
        assert name in table and str(entry.published) in table, name
