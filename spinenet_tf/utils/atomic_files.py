"""Files and folders that appear at their final path only when complete.

Each is written under a temporary sibling name and renamed into place
(`os.replace`, atomic on one file system), so a run killed mid-write, or a
write that fails on a full disk, leaves the previous version (or nothing)
at the final path, never a truncated one, and a rerun succeeds. What a
killed run left behind (`*.partial`) is removed by the next write.
"""

import contextlib
import os
import shutil

PARTIAL = ".partial"


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


@contextlib.contextmanager
def atomic_file(path):
    """Yields a temporary sibling path to write `path`'s content to; it
    replaces `path` when the block ends without an exception and is removed
    otherwise. The temporary name keeps `path`'s extension (Keras checks a
    `.keras` suffix)."""
    path = os.path.abspath(path)
    folder, name = os.path.split(path)
    stem, extension = os.path.splitext(name)
    temporary = os.path.join(folder, f".{stem}{PARTIAL}{extension}")
    os.makedirs(folder, exist_ok=True)
    _remove(temporary)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        _remove(temporary)


def write_bytes(path, content):
    """Writes `content` to `path` atomically (`atomic_file`)."""
    with atomic_file(path) as temporary:
        with open(temporary, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())


def save_keras_model(model, path):
    """`model.save(path)` atomically (`atomic_file`)."""
    with atomic_file(path) as temporary:
        model.save(temporary)


@contextlib.contextmanager
def atomic_directory(path, keep_failed=False):
    """Yields a fresh sibling folder `<path>.partial` to build a folder in;
    when the block ends without an exception it takes `path`'s place (the
    previous folder, if any, is removed after the swap). On an exception
    `path` is left as it was and the partial folder is removed, or with
    `keep_failed` kept to look at (e.g. its logs say why it failed) until
    the next call removes it.

    Between the two renames of the swap the previous folder is
    `<path>.old`; a run killed exactly then leaves it there, and the next
    call puts it back before building."""
    path = os.path.abspath(path.rstrip(os.sep))
    partial, old = path + PARTIAL, path + ".old"
    if os.path.isdir(old):
        if os.path.exists(path):
            _remove(old)
        else:
            os.replace(old, path)
    _remove(partial)
    os.makedirs(partial)
    try:
        yield partial
    except BaseException:
        if not keep_failed:
            _remove(partial)
        raise
    if os.path.exists(path):
        os.replace(path, old)
    os.replace(partial, path)
    _remove(old)
