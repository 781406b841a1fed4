"""The errors of reading and writing checkpoints, shared by the training
checkpoints (`training.checkpoints`) and the published-weights readers
(`pretrained`)."""


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the model it is restored into."""


class CheckpointReadError(OSError):
    """A checkpoint's files are missing, truncated or corrupt."""


class CheckpointWriteError(OSError):
    """A checkpoint could not be written whole (e.g. the disk is full)."""
