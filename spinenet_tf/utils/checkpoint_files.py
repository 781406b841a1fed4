"""Finding a checkpoint's prefix from what a user points at."""

import glob
import os

import tensorflow as tf


def resolve_checkpoint_prefix(checkpoint_path):
    """A checkpoint prefix from a prefix or a folder (its `checkpoint` state
    file's latest, or the one checkpoint it holds); an error naming the
    path otherwise."""
    checkpoint_path = os.fspath(checkpoint_path)
    if not os.path.isdir(checkpoint_path):
        if not tf.io.gfile.exists(checkpoint_path + ".index"):
            raise FileNotFoundError(
                f"No checkpoint at {checkpoint_path!r} (expected "
                f"{checkpoint_path + '.index'!r} and its data files).")
        return checkpoint_path
    latest = tf.train.latest_checkpoint(checkpoint_path)
    if latest:
        return latest
    # No `checkpoint` state file (written by `Checkpoint.write`): accept a
    # folder holding exactly one checkpoint.
    prefixes = sorted(p[: -len(".index")] for p in glob.glob(
        os.path.join(checkpoint_path, "*.index")))
    if len(prefixes) != 1:
        raise FileNotFoundError(
            f"No checkpoint found in folder {checkpoint_path!r}"
            + (f"; it holds several without a `checkpoint` state file: "
               f"{prefixes}, pass one prefix." if prefixes else "."))
    return prefixes[0]
