"""Fault injection, exports: files and folders appear at their final path
only when complete. A write that fails, a full disk, or a SIGKILL of
`export_saved_model.py` at a seeded moment leaves the previous export (or
nothing), and the rerun succeeds."""

import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf
from support import DEMO_CONFIG, ROOT

from spinenet_tf.utils.atomic_files import atomic_directory, atomic_file, write_bytes


class Interrupted(Exception):
    pass


def test_a_failed_file_write_leaves_the_previous_file(tmp_path):
    path = tmp_path / "model.tflite"
    write_bytes(str(path), b"old")
    with pytest.raises(Interrupted):
        with atomic_file(str(path)) as temporary:
            open(temporary, "wb").write(b"half of the new")
            raise Interrupted
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["model.tflite"]
    write_bytes(str(path), b"new")
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["model.tflite"]


def test_a_temporary_name_keeps_the_extension(tmp_path):
    with atomic_file(str(tmp_path / "model.keras")) as temporary:
        assert temporary.endswith(".keras") and temporary != str(tmp_path / "model.keras")
        open(temporary, "w").write("x")
    assert os.listdir(tmp_path) == ["model.keras"]


@pytest.mark.parametrize("keep_failed", [False, True])
def test_a_failed_folder_build_leaves_the_previous_folder(tmp_path, keep_failed):
    final = tmp_path / "export"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with pytest.raises(Interrupted):
        with atomic_directory(str(final), keep_failed=keep_failed) as partial:
            open(os.path.join(partial, "saved_model.pb"), "w").write("half")
            raise Interrupted
    assert os.listdir(final) == ["old.txt"]
    assert os.path.exists(str(final) + ".partial") == keep_failed
    with atomic_directory(str(final)) as partial:  # the rerun clears what was left
        open(os.path.join(partial, "saved_model.pb"), "w").write("new")
    assert os.listdir(final) == ["saved_model.pb"]
    assert sorted(os.listdir(tmp_path)) == ["export"]


def test_a_swap_killed_between_its_renames_is_put_back(tmp_path):
    """Killed after the old folder was moved aside and before the new one
    took its place: the next build first puts the old one back."""
    final, old = tmp_path / "export", tmp_path / "export.old"
    old.mkdir()
    (old / "old.txt").write_text("old")
    with pytest.raises(Interrupted):
        with atomic_directory(str(final)):
            assert os.listdir(final) == ["old.txt"]
            raise Interrupted
    assert os.listdir(final) == ["old.txt"] and not old.exists()


def test_a_full_disk_keeps_the_previous_saved_model_and_tflite(small_disk, fill_disk):
    from support import tiny_detector

    from spinenet_tf.export import export_saved_model
    from spinenet_tf.export.tflite import write_tflite

    final = small_disk / "export"
    final.mkdir()
    (final / "saved_model.pb").write_bytes(b"the previous export")
    filler = fill_disk(small_disk, leave=512 * 1024)
    with pytest.raises(tf.errors.ResourceExhaustedError, match="No space left on device"):
        export_saved_model(tiny_detector(), str(final))
    assert os.listdir(final) == ["saved_model.pb"]
    assert (final / "saved_model.pb").read_bytes() == b"the previous export"
    write_tflite(b"old", str(small_disk / "model.tflite"))
    with pytest.raises(OSError, match="No space left on device"):
        write_tflite(b"\0" * 2**21, str(small_disk / "model.tflite"))
    assert (small_disk / "model.tflite").read_bytes() == b"old"
    assert sorted(os.listdir(small_disk)) == sorted(["export", "model.tflite", filler.name])


EXPORT = [sys.executable, os.path.join(ROOT, "export_saved_model.py"), "--config", DEMO_CONFIG,
          "--set", "model.image_size=[128,128]", "--set", "model.head_num_convs=1",
          "--set", "model.head_num_filters=8", "--set", "model.num_classes=4",
          "--set", "model.backbone=spinenet-mobile-49xs"]


@pytest.mark.slow
def test_export_killed_at_a_seeded_moment_leaves_the_previous_export(tmp_path):
    final = tmp_path / "export"
    final.mkdir()
    (final / "old.txt").write_text("the previous export")
    command = EXPORT + ["--export_dir", str(final)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:  # the folder is being built
        if line.startswith("Exporting to"):
            break
    time.sleep(random.Random(0).uniform(0.5, 3.0))  # tracing takes > 10 s
    assert process.poll() is None, "the export ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert os.listdir(final) == ["old.txt"]

    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Export complete: {final}" in result.stdout
    assert sorted(os.listdir(tmp_path)) == ["export"]
    assert {"saved_model.pb", "variables"} <= set(os.listdir(final))
    loaded = tf.saved_model.load(str(final))
    detections = loaded.signatures["serving_default"](images=tf.zeros([1, 64, 64, 3], tf.uint8))
    assert detections["detection_boxes"].shape[-1] == 4


@pytest.mark.slow
def test_export_to_a_full_disk_is_one_line_and_keeps_nothing_half_written(small_disk,
                                                                         fill_disk):
    fill_disk(small_disk, leave=512 * 1024)
    final = small_disk / "export"
    result = subprocess.run(EXPORT + ["--export_dir", str(final)], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "No space left on device" in errors[0], result.stderr
    assert f"{final}.partial" in errors[0] and "{{" not in errors[0]
    assert not final.exists()
    shutil.rmtree(str(final) + ".partial")
