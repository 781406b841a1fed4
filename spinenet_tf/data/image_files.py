"""Whether the image files of a data source can be read, checked before a
run starts: a folder that is missing or whose images are mostly unreadable
is an error then, not an epoch of skipped images (docs/training.md).

The check is cheap (a stat and the first bytes of each file): it finds
missing files, empty files and files that are not images of a format
`tf.io.decode_image` reads. A file that passes and is still corrupt further
in is skipped and counted by the input pipeline (`DecodeLog`).
"""

import os

import tensorflow as tf
from absl import logging

# The formats tf.io.decode_image decodes, by their first bytes.
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM")


def _is_image(head):
    return head.startswith(_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


class UnreadableImagesError(ValueError):
    """Too many images of a data source cannot be read."""


def unreadable_reason(path):
    """Why the image file `path` cannot be read, or None when it looks like
    an image (JPEG, PNG, GIF, BMP or WebP)."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except FileNotFoundError:
        return "no such file"
    except OSError as error:
        return error.strerror or str(error)
    if not head:
        return "empty file"
    if not _is_image(head):
        return f"not a JPEG, PNG, GIF, BMP or WebP file (starts with {head[:4]!r})"
    return None


def check_image_files(paths, folder, max_unreadable_fraction, what):
    """Checks `paths` (the images of one data source, under `folder`).

    Raises `FileNotFoundError` when `folder` does not exist, and
    `UnreadableImagesError` when no image can be read or the unreadable
    share exceeds `max_unreadable_fraction`; the message names the folder,
    the count and the first files with their reasons. A smaller share is
    one warning with the count. `what` names the source in messages (the
    config key, e.g. "train_data.image_dir"). Returns the (path, reason)
    pairs of the unreadable files.
    """
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{what} {folder!r} does not exist or is not a folder.")
    failures = [(path, reason) for path in paths
                for reason in [unreadable_reason(path)] if reason]
    if not failures:
        return failures
    total = len(paths)
    examples = "; ".join(f"{os.path.relpath(path, folder)}: {reason}"
                         for path, reason in failures[:3])
    more = f"; and {len(failures) - 3} more" if len(failures) > 3 else ""
    summary = (f"{len(failures)} of {total} images of {what} {folder!r} cannot be read "
               f"({examples}{more})")
    if len(failures) == total:
        raise UnreadableImagesError(f"{summary}: there is nothing to train or evaluate on.")
    if len(failures) > max_unreadable_fraction * total:
        raise UnreadableImagesError(
            f"{summary}: {len(failures) / total:.0%} is more than the "
            f"{max_unreadable_fraction:.0%} that max_unreadable_fraction allows.")
    logging.warning("%s; they are skipped.", summary)
    return failures


def load_image(path):
    """uint8 RGB [H, W, 3] from an image file."""
    return tf.io.decode_image(tf.io.read_file(path), channels=3,
                              expand_animations=False).numpy()
