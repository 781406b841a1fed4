"""What the one line after Ctrl-C says for each kind of command: what was
left on disk and the command that resumes (`errors.with_clear_errors`)."""

import os

from spinenet_tf.cli.errors import command_line
from spinenet_tf.search.trial_log import TRIALS_FILE, TrialLog
from spinenet_tf.training.checkpoints import CHECKPOINT_DIR, latest_checkpoint


def training_stopped(model_dir):
    """A training run: its newest whole checkpoint, and that rerunning the
    same command resumes from it."""
    folder = os.path.join(model_dir, CHECKPOINT_DIR)
    newest = latest_checkpoint(folder) if os.path.isdir(folder) else None
    if newest:
        return (f"training in {model_dir} stopped; its newest checkpoint is {newest}. The "
                f"same command resumes from it: {command_line()}")
    return (f"training in {model_dir} stopped before its first checkpoint; the same command "
            f"starts it again: {command_line()}")


def folder_not_written(folder, what):
    """A command that writes `folder` whole or not at all (export, convert)."""
    return (f"the {what} was not finished; {folder} is as it was before (nothing "
            f"half-written). Run the same command again: {command_line()}")


def search_stopped(folder):
    """A search: the trials on record, and that the same command goes on."""
    trials = len(TrialLog(os.path.join(folder, TRIALS_FILE)).trials)
    return (f"the search in {folder} stopped with {trials} trial{'s' * (trials != 1)} on "
            f"record (the trial it was training resumes from its checkpoint). The same command continues: "
            f"{command_line()}")
