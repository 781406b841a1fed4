"""Fault injection, data: malformed COCO files (every field the project
reads, given a value COCO does not allow, or left out), duplicate ids,
files cut at random offsets, and image folders that are missing or
unreadable. Each is an error naming the file and the entry, field or
folder; a few unreadable images are a counted warning."""

import json
import os
import random
import subprocess

import numpy as np
import pytest
import tensorflow as tf
from support import DEMO_CONFIG, ROOT

from spinenet_tf.config import load_config
from spinenet_tf.data.coco import CocoFormatError, load_coco
from spinenet_tf.data.image_files import UnreadableImagesError, check_image_files
from spinenet_tf.models.base import task_for_config


def _valid():
    return {
        "images": [{"id": 1, "file_name": "a.png", "height": 32, "width": 32},
                   {"id": 2, "file_name": "b.png", "height": 32, "width": 32}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 10],
                         "iscrowd": 0, "area": 100.0},
                        {"id": 2, "image_id": 2, "category_id": 2, "bbox": [3, 3, 5, 5]}],
        "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
    }


# COCO's rules for the fields read (https://cocodataset.org/#format-data):
# (section, key, required, values it must refuse).
FIELDS = [
    ("images", "id", True, ["1", 1.5, True, None]),
    ("images", "file_name", True, [7, "", None]),
    ("images", "height", True, ["32", 0, -3, 31.5, True]),
    ("images", "width", True, ["32", 0, 2.5]),
    ("annotations", "id", True, ["1", 2.0, None]),
    ("annotations", "image_id", True, ["1", 1.0]),
    ("annotations", "category_id", True, ["1", False]),
    ("annotations", "bbox", True, [["10", "10", "40", "30"], [1, 2, 3], [1, 2, 3, True],
                                   "1 2 3 4", None]),
    ("annotations", "iscrowd", False, [2, "0", 0.5]),
    ("annotations", "area", False, ["100", None]),
    ("categories", "id", True, [0, -1, "1"]),
    ("categories", "name", True, [3, None]),
]


def _write(tmp_path, data, name="annotations.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def _field_cases():
    for section, key, required, values in FIELDS:
        if required:
            yield pytest.param(section, key, "missing", id=f"{section}.{key}-missing")
        for index, value in enumerate(values):
            yield pytest.param(section, key, value, id=f"{section}.{key}-bad{index}")


@pytest.mark.parametrize("section,key,value", list(_field_cases()))
def test_a_field_against_the_format_is_an_error_naming_it(tmp_path, section, key, value):
    data = _valid()
    entry = data[section][1]
    if value == "missing":
        del entry[key]
    else:
        entry[key] = value
    with pytest.raises(CocoFormatError) as raised:
        load_coco(_write(tmp_path, data), str(tmp_path))
    message = str(raised.value)
    assert "annotations.json" in message and f"`{key}`" in message, message
    singular = {"images": "image", "annotations": "annotation", "categories": "category"}
    assert f"{singular[section]} #1" in message, message


@pytest.mark.parametrize("section", ["images", "annotations", "categories"])
def test_duplicate_ids_are_errors_naming_both_entries(tmp_path, section):
    data = _valid()
    data[section][1]["id"] = data[section][0]["id"]
    with pytest.raises(CocoFormatError, match=r"#1 \(id 1\): id 1 is already the id of "
                       r"[a-z]+ #0; ids must be unique"):
        load_coco(_write(tmp_path, data), str(tmp_path))


@pytest.mark.parametrize("section", ["images", "categories"])
def test_an_empty_list_is_an_error(tmp_path, section):
    data = _valid()
    data[section] = []
    data["annotations"] = []
    with pytest.raises(CocoFormatError, match=f"`{section}` is empty"):
        load_coco(_write(tmp_path, data), str(tmp_path))


def test_entries_that_are_not_objects_are_errors(tmp_path):
    data = _valid()
    data["annotations"][1] = [1, 2, 3]
    with pytest.raises(CocoFormatError, match=r"annotation #1 is \[1, 2, 3\], not an object"):
        load_coco(_write(tmp_path, data), str(tmp_path))


@pytest.mark.parametrize("seed", range(6))
def test_a_file_cut_at_a_random_offset_is_an_error_naming_it(tmp_path, seed):
    text = json.dumps(_valid())
    cut = random.Random(seed).randrange(1, len(text) - 1)
    path = tmp_path / "cut.json"
    path.write_text(text[:cut])
    with pytest.raises(CocoFormatError, match="cut.json is not valid JSON"):
        load_coco(str(path), str(tmp_path))


def test_bytes_that_are_not_text_are_an_error(tmp_path):
    path = tmp_path / "binary.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CocoFormatError, match="binary.json is not"):
        load_coco(str(path), str(tmp_path))


# --- image folders -----------------------------------------------------------

def _images(folder, count, bad=()):
    """`count` PNGs in `folder`; those in `bad` are replaced by a fault."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"{i}.png"
        fault = dict(bad).get(i)
        if fault == "missing":
            pass
        elif fault == "empty":
            path.write_bytes(b"")
        elif fault == "text":
            path.write_text("not an image")
        else:
            tf.io.write_file(str(path), tf.io.encode_png(np.zeros((4, 4, 3), "uint8")))
        paths.append(str(path))
    return paths


def test_a_missing_folder_is_an_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_data.image_dir '.*nowhere' does not exist"):
        check_image_files([], str(tmp_path / "nowhere"), 0.1, "train_data.image_dir")


def test_no_readable_image_is_an_error_naming_the_folder_and_the_count(tmp_path):
    paths = _images(tmp_path / "images", 3, [(0, "missing"), (1, "empty"), (2, "text")])
    with pytest.raises(UnreadableImagesError) as raised:
        check_image_files(paths, str(tmp_path / "images"), 0.5, "eval_data.image_dir")
    message = str(raised.value)
    assert "3 of 3 images of eval_data.image_dir" in message
    assert "0.png: no such file" in message and "1.png: empty file" in message
    assert "2.png: not a JPEG, PNG, GIF, BMP or WebP file" in message


def test_more_unreadable_images_than_allowed_is_an_error(tmp_path):
    paths = _images(tmp_path / "images", 10, [(3, "text"), (7, "empty")])
    with pytest.raises(UnreadableImagesError, match=r"2 of 10 .*20% is more than the 10%"):
        check_image_files(paths, str(tmp_path / "images"), 0.1, "train_data.image_dir")
    # Allowed up to 20 %: a warning, the failures returned.
    assert len(check_image_files(paths, str(tmp_path / "images"), 0.2, "x")) == 2


def _synthetic(tmp_path):
    from spinenet_tf.data import synthetic

    synthetic.generate(str(tmp_path / "data"), num_train=4, num_val=2, image_size=128, seed=0)
    return str(tmp_path / "data")


def test_the_detection_task_checks_its_images_before_any_step(tmp_path):
    data = _synthetic(tmp_path)
    images = os.path.join(data, "train", "images")
    os.remove(os.path.join(images, sorted(os.listdir(images))[0]))  # 1 of 4 missing
    config = load_config(DEMO_CONFIG, [
        f"train_data.annotations={data}/train/annotations.json",
        f"train_data.image_dir={images}", "model.image_size=[128, 128]"])
    task = task_for_config(config)
    with pytest.raises(UnreadableImagesError, match="1 of 4 images of train_data.image_dir"):
        task.examples(config.train_data)
    config.train_data.max_unreadable_fraction = 0.25
    assert task_for_config(config).examples(config.train_data)[1].num_images == 4


def test_train_py_with_a_missing_image_folder_stops_before_training(tmp_path):
    data = _synthetic(tmp_path)
    from support import train_command

    command = train_command(data, str(tmp_path / "run"), 2, 2, extra=[
        "--set", f"train_data.image_dir={tmp_path}/no_images"])
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-2]
    assert last == (f"error: FileNotFoundError: train_data.image_dir '{tmp_path}/no_images' "
                    "does not exist or is not a folder."), result.stderr
    assert not os.path.exists(tmp_path / "run" / "checkpoints")
