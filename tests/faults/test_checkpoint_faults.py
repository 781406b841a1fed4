"""Fault injection, checkpoints: files cut at random offsets, bytes flipped,
a missing index, a full disk while writing; resuming skips what does not
read, and `export_saved_model.py` / `train.py` end in one line naming the
file. (Resuming a killed run past a truncated checkpoint:
tests/training/test_train_cli.py.)"""

import glob
import os
import random
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
from support import ROOT, TRAINED_STEPS

from spinenet_tf.training import checkpoints
from spinenet_tf.training.checkpoints import (
    CheckpointReadError,
    CheckpointWriteError,
    CheckpointWriter,
    find_restorable_checkpoint,
    restore_checkpoint,
    training_checkpoint,
    verify_checkpoint,
)


def _model():
    inputs = keras.Input((8,))
    model = keras.Model(inputs, keras.layers.Dense(4, name="dense")(
        keras.layers.Dense(64, name="hidden")(inputs)))
    optimizer = keras.optimizers.SGD(momentum=0.9)
    optimizer.build(model.trainable_variables)
    return model, optimizer


def _written(folder, steps=(1, 2, 3)):
    """A CheckpointWriter's folder with a checkpoint per step; the model's
    weights at each step differ."""
    model, optimizer = _model()
    writer = CheckpointWriter(training_checkpoint(model, optimizer), str(folder), 5)
    weights = {}
    for step in steps:
        model.get_layer("dense").kernel.assign(np.full((64, 4), step, "float32"))
        weights[step] = writer.save(step)
    return model, optimizer, writer, weights


def _data_file(path):
    return glob.glob(path + ".data-*")[0]


@pytest.mark.parametrize("seed", range(6))
def test_a_data_file_cut_at_a_random_offset_names_the_file(tmp_path, seed):
    _, _, _, paths = _written(tmp_path)
    data = _data_file(paths[3])
    cut = random.Random(seed).randrange(0, os.path.getsize(data))
    with open(data, "r+b") as f:
        f.truncate(cut)
    with pytest.raises(CheckpointReadError, match=f"{data} is truncated or corrupt"):
        verify_checkpoint(paths[3])
    # Resuming takes the newest that reads and names the one it skipped.
    found, skipped = find_restorable_checkpoint(str(tmp_path))
    assert found == paths[2] and [p for p, _ in skipped] == [paths[3]]
    model, optimizer = _model()
    with pytest.raises(CheckpointReadError):
        restore_checkpoint(paths[3], model, optimizer)
    restore_checkpoint(found, model, optimizer)
    assert float(model.get_layer("dense").kernel[0, 0]) == 2.0


@pytest.mark.parametrize("seed", range(3))
def test_flipped_bytes_in_the_data_fail_the_checksum(tmp_path, seed):
    _, _, _, paths = _written(tmp_path)
    data = _data_file(paths[3])
    offset = random.Random(seed).randrange(0, os.path.getsize(data) - 4)
    with open(data, "r+b") as f:
        f.seek(offset)
        original = f.read(4)
        f.seek(offset)
        f.write(bytes(b ^ 0xFF for b in original))
    with pytest.raises(CheckpointReadError, match=f"{data} is truncated or corrupt"):
        verify_checkpoint(paths[3])


@pytest.mark.parametrize("fault", ["index cut", "index missing", "state file garbage"])
def test_a_damaged_index_or_state_file(tmp_path, fault):
    _, _, _, paths = _written(tmp_path)
    index = paths[3] + ".index"
    if fault == "index cut":
        with open(index, "r+b") as f:
            f.truncate(os.path.getsize(index) // 2)
    elif fault == "index missing":
        os.remove(index)
    else:
        (tmp_path / "checkpoint").write_bytes(os.urandom(64))
    found, skipped = find_restorable_checkpoint(str(tmp_path))
    if fault == "index cut":
        assert found == paths[2] and f"{index} is damaged" in skipped[0][1]
    else:  # the files themselves are listed, not the state file
        assert found == (paths[2] if fault == "index missing" else paths[3])
    assert checkpoints.latest_checkpoint(str(tmp_path)) in (found, paths[3])


def test_no_readable_checkpoint_is_an_error_not_a_fresh_start(tmp_path):
    _, _, _, paths = _written(tmp_path, steps=(1, 2))
    for path in paths.values():
        with open(_data_file(path), "r+b") as f:
            f.truncate(3)
    with pytest.raises(CheckpointReadError, match="None of the 2 checkpoints in .* can be "
                       "read .*Move the folder away to start over"):
        find_restorable_checkpoint(str(tmp_path))


def test_a_full_disk_while_writing_keeps_the_last_whole_checkpoint(small_disk, fill_disk):
    folder = small_disk / "checkpoints"
    model, optimizer, writer, paths = _written(folder, steps=(1,))
    filler = fill_disk(small_disk, leave=8 * 1024)
    with pytest.raises(CheckpointWriteError, match=r"Could not write checkpoint .*ckpt-2 "
                       r"\(.*\); it was removed and the newest whole checkpoint is .*ckpt-1"):
        writer.save(2)
    assert not glob.glob(str(folder / "ckpt-2*"))
    assert checkpoints.latest_checkpoint(str(folder)) == paths[1]
    verify_checkpoint(paths[1])
    os.remove(filler)  # room again: the next save works
    assert writer.save(3) == str(folder / "ckpt-3")
    assert find_restorable_checkpoint(str(folder)) == (str(folder / "ckpt-3"), [])


# --- through the command lines ----------------------------------------------

def _copy_run(trained_run, tmp_path):
    folder = str(tmp_path / "run")
    shutil.copytree(trained_run, folder)
    return folder


@pytest.mark.slow
def test_export_from_a_truncated_checkpoint_is_one_line_naming_the_file(trained_run,
                                                                        tmp_path):
    folder = _copy_run(trained_run, tmp_path)
    data = _data_file(os.path.join(folder, "checkpoints", f"ckpt-{TRAINED_STEPS}"))
    with open(data, "r+b") as f:
        f.truncate(os.path.getsize(data) // 3)
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "export_saved_model.py"), "--model_dir", folder,
         "--export_dir", str(tmp_path / "export")], cwd=ROOT, capture_output=True,
        text=True, timeout=600)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"{data} is truncated or corrupt" in errors[0], result.stderr
    assert not os.path.exists(tmp_path / "export")
