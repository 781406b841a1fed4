"""Checkpoints keyed by variable path, and the model folder `train.py` writes.

A training checkpoint maps each variable's path (`block3_mbconv1/expand_bn/
gamma`, `sgd/stem_conv_kernel_momentum`) to its value, so it restores into
any model of the same architecture whatever order its variables were made
in; a missing, unexpected or reshaped variable is an error that names it.

A model folder holds `model.keras` (architecture and weights, written when
training starts and again when it ends), `config.yaml` (the experiment) and
`checkpoints/`; `load_model_dir` gives back the model at its latest (or a
given) checkpoint from those files alone, with no optimizer and no rebuild
from code paths that could drift from what training ran.

Faults: a checkpoint is verified (every tensor read back against its
checksum) before it is restored and right after it is written. One that
cannot be read is a `CheckpointReadError` naming its file; resuming skips
it for the newest one that reads (`find_restorable_checkpoint`), and a
write that fails (a full disk) or does not read back is removed and is a
`CheckpointWriteError`, so the newest checkpoint listed is always whole
(`CheckpointWriter`).
"""

import glob
import os
import re
import shutil

import keras
import tensorflow as tf
from absl import logging

from spinenet_tf.utils.checkpoint_errors import (  # noqa: F401 - raised here, public here
    CheckpointMismatchError,
    CheckpointReadError,
    CheckpointWriteError,
)
from spinenet_tf.utils.variable_paths import optimizer_variables_by_path, variables_by_path

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.yaml"
CHECKPOINT_DIR = "checkpoints"

# Checkpoints of spinenet_tf 0.1 listed the model's variables by position.
_POSITIONAL_KEY = re.compile(r"model_variables/\d+/")


def _reason(error):
    return " ".join(str(getattr(error, "message", error)).split())


def checkpoint_files(checkpoint_path):
    """The files of the checkpoint `checkpoint_path` (its index, then its data shards)."""
    return [checkpoint_path + ".index"] + sorted(glob.glob(checkpoint_path + ".data-*"))


def verify_checkpoint(checkpoint_path):
    """Reads every tensor of a checkpoint back (TensorFlow checks each
    against its stored checksum). Raises `CheckpointReadError` naming the
    file that is missing, truncated or corrupt."""
    index = checkpoint_path + ".index"
    if not os.path.exists(index):
        raise CheckpointReadError(f"Checkpoint {checkpoint_path} cannot be read: {index} "
                                  "does not exist.")
    try:
        reader = tf.train.load_checkpoint(checkpoint_path)
        names = list(reader.get_variable_to_shape_map())
    except (tf.errors.OpError, IndexError, ValueError) as error:
        raise CheckpointReadError(
            f"Checkpoint {checkpoint_path} cannot be read: {index} is damaged "
            f"({_reason(error)}).") from error
    try:
        for name in names:
            reader.get_tensor(name)
    except (tf.errors.OpError, IndexError, ValueError) as error:
        data = ", ".join(checkpoint_files(checkpoint_path)[1:]) or f"{checkpoint_path}.data-*"
        raise CheckpointReadError(
            f"Checkpoint {checkpoint_path} cannot be read: {data} is truncated or "
            f"corrupt ({_reason(error)}; tensor {name!r}).") from error


_STEP = re.compile(r"ckpt-(\d+)\.index$")


def listed_checkpoints(checkpoint_dir):
    """The checkpoints in `checkpoint_dir` (by their index files), newest
    (highest step) first."""
    found = []
    for index in glob.glob(os.path.join(checkpoint_dir, "ckpt-*.index")):
        match = _STEP.search(index)
        if match:
            found.append((int(match.group(1)), index[:-len(".index")]))
    return [path for _, path in sorted(found, reverse=True)]


def find_restorable_checkpoint(checkpoint_dir):
    """The newest checkpoint of `checkpoint_dir` that reads whole, and the
    (path, reason) of each newer one skipped. (None, []) when the folder has
    no checkpoint; `CheckpointReadError` when it has some and none reads,
    since starting over silently would throw the run away."""
    skipped = []
    for path in listed_checkpoints(checkpoint_dir):
        try:
            verify_checkpoint(path)
            return path, skipped
        except CheckpointReadError as error:
            skipped.append((path, str(error)))
    if skipped:
        raise CheckpointReadError(
            f"None of the {len(skipped)} checkpoints in {checkpoint_dir} can be read "
            f"(newest: {skipped[0][1]}). Move the folder away to start over.")
    return None, skipped


def set_aside(checkpoint_path):
    """Renames a checkpoint's files to `<file>.unreadable` (kept for a
    look, out of the way of resuming); returns the new names."""
    moved = []
    for path in checkpoint_files(checkpoint_path):
        if os.path.exists(path):
            os.replace(path, path + ".unreadable")
            moved.append(path + ".unreadable")
    return moved


class CheckpointWriter:
    """`tf.train.CheckpointManager` that verifies what it writes.

    `save(step)` writes `ckpt-<step>`, reads it back, and only then is it the
    newest listed; a write that fails (a full disk) or does not read back
    is removed and raises `CheckpointWriteError` naming it and the newest
    whole checkpoint, which stays listed. Older checkpoints beyond
    `max_to_keep` are deleted only after a good write.
    """

    def __init__(self, checkpoint, directory, max_to_keep):
        self.directory = directory
        self.manager = tf.train.CheckpointManager(checkpoint, directory,
                                                  max_to_keep=max_to_keep)

    def _newest_whole(self):
        return self.manager.latest_checkpoint or "none"

    def save(self, step):
        prefix = os.path.join(self.directory, f"ckpt-{step}")
        previous = self._newest_whole()
        kept = list(self.manager.checkpoints)
        try:
            path = self.manager.save(checkpoint_number=step)
            verify_checkpoint(path)
        except KeyboardInterrupt:
            # Ctrl-C inside the write: the newest whole checkpoint stays the
            # newest listed, as after a failed write.
            self._remove(prefix, kept)
            raise
        except (tf.errors.OpError, OSError) as error:
            self._remove(prefix, kept)
            raise CheckpointWriteError(
                f"Could not write checkpoint {prefix} ({_reason(error)}); it was removed "
                f"and the newest whole checkpoint is {previous}. Free disk space and "
                "rerun: training resumes from it.") from error
        return path

    def _remove(self, prefix, kept):
        for path in glob.glob(prefix + ".*") + glob.glob(prefix + "_temp*"):
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            elif os.path.exists(path):
                os.remove(path)
        if not kept:  # the state file would list only the removed one
            state = os.path.join(self.directory, "checkpoint")
            if os.path.exists(state):
                os.remove(state)
        else:
            try:
                tf.compat.v1.train.update_checkpoint_state(
                    self.directory, kept[-1], all_model_checkpoint_paths=kept)
            except (tf.errors.OpError, OSError) as error:  # the disk is still full
                logging.warning("Could not rewrite %s/checkpoint (%s); resuming reads "
                                "the checkpoint files themselves.", self.directory,
                                _reason(error))


def training_checkpoint(model, optimizer=None):
    """A `tf.train.Checkpoint` of `model`'s variables (and `optimizer`'s),
    each keyed by its path."""
    items = {"model": variables_by_path(model)}
    if optimizer is not None:
        items["optimizer"] = optimizer_variables_by_path(optimizer)
    return tf.train.Checkpoint(**items)


VARIABLE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def _key(section, path):
    # How tf.train.Checkpoint names a dict entry: "." -> "..", "/" -> ".S".
    return f"{section}/{path.replace('.', '..').replace('/', '.S')}{VARIABLE_SUFFIX}"


def _path_of(entry):
    """The variable path of a checkpoint's dict entry name (`_key`'s inverse)."""
    return entry.replace(".S", "/").replace("..", ".")


def _listing(paths, limit=5):
    paths = sorted(paths)
    more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
    return ", ".join(repr(p) for p in paths[:limit]) + more


def restore_checkpoint(checkpoint_path, model, optimizer=None, verify=True):
    """Restores `model` (and `optimizer`) from a path-keyed checkpoint.

    Every variable must be in the checkpoint with its shape, and (for the
    sections restored) nothing else may be there; otherwise a
    `CheckpointMismatchError` names the variables. A checkpoint of
    spinenet_tf 0.1 (variables listed by position) is refused with the
    reason: restoring by position silently swaps same-shaped variables
    when their order changes. A checkpoint that cannot be read whole is a
    `CheckpointReadError` (`verify_checkpoint`; `verify=False` for one the
    caller has just verified).
    """
    if verify:
        verify_checkpoint(checkpoint_path)
    stored = dict(tf.train.list_variables(checkpoint_path))
    if any(_POSITIONAL_KEY.match(name) for name in stored):
        raise CheckpointMismatchError(
            f"{checkpoint_path} is a spinenet_tf 0.1 checkpoint: it lists "
            f"{sum(bool(_POSITIONAL_KEY.match(n)) for n in stored)} variables by "
            "position ('model_variables/0', ...), which cannot be matched to "
            "variables by name safely. Load that run's final.weights.h5 with "
            "model.load_weights instead, or retrain.")
    sections = {"model": variables_by_path(model)}
    if optimizer is not None:
        sections["optimizer"] = optimizer_variables_by_path(optimizer)
    problems = []
    for section, variables in sections.items():
        expected = {_key(section, path): (path, v) for path, v in variables.items()}
        present = {name for name in stored if name.startswith(f"{section}/")}
        missing = [path for key, (path, _) in expected.items() if key not in stored]
        extra = [_path_of(name.split("/")[1]) for name in present - set(expected)]
        reshaped = [f"{path} {tuple(stored[key])} vs {tuple(v.shape)}"
                    for key, (path, v) in expected.items()
                    if key in stored and tuple(stored[key]) != tuple(v.shape)]
        if missing:
            problems.append(f"{len(missing)} {section} variables missing from it "
                            f"({_listing(missing)})")
        if extra:
            problems.append(f"{len(extra)} {section} variables it has that "
                            f"{model.name!r} lacks ({_listing(extra)})")
        if reshaped:
            problems.append(f"{len(reshaped)} of another shape ({_listing(reshaped)})")
    if problems:
        raise CheckpointMismatchError(
            f"Checkpoint {checkpoint_path} does not fit {model.name!r}: "
            + "; ".join(problems) + ".")
    status = training_checkpoint(model, optimizer).read(checkpoint_path)
    status.assert_existing_objects_matched().expect_partial()
    return model


def latest_checkpoint(checkpoint_dir):
    """The newest checkpoint `checkpoint_dir` lists (its `checkpoint` state
    file), or the newest by step of its files when that file is missing or
    unreadable; None when there is none."""
    try:
        listed = tf.train.latest_checkpoint(checkpoint_dir)
    except (tf.errors.OpError, ValueError) as error:
        logging.warning("%s/checkpoint cannot be read (%s); taking the newest "
                        "checkpoint file.", checkpoint_dir, _reason(error))
        listed = None
    if listed:
        return listed
    found = listed_checkpoints(checkpoint_dir)
    return found[0] if found else None


def checkpoint_values(checkpoint_path, section="model"):
    """{variable path: array} of `section` ("model" or "optimizer") of a
    path-keyed checkpoint (`training_checkpoint`), read whole."""
    verify_checkpoint(checkpoint_path)
    reader = tf.train.load_checkpoint(checkpoint_path)
    values = {}
    for name in reader.get_variable_to_shape_map():
        parts = name.split("/")
        if parts[0] == section and len(parts) > 1 and name.endswith(VARIABLE_SUFFIX):
            values[_path_of(parts[1])] = reader.get_tensor(name)
    return values


def load_model_dir(model_dir, checkpoint=None):
    """The model of a `train.py` folder at its latest (or the given)
    checkpoint: `model.keras` for the architecture, then the checkpoint's
    weights by path. Returns (model, checkpoint path or None when the folder
    has no checkpoint and `model.keras` alone gives the weights)."""
    model_file = os.path.join(model_dir, MODEL_FILE)
    if not os.path.exists(model_file):
        raise FileNotFoundError(
            f"{model_file} not found: {model_dir!r} is not a model folder written "
            "by train.py (it writes model.keras when training starts).")
    model = keras.saving.load_model(model_file, compile=False)
    checkpoint = checkpoint or latest_checkpoint(os.path.join(model_dir, CHECKPOINT_DIR))
    if checkpoint:
        restore_checkpoint(checkpoint, model)
    return model, checkpoint
