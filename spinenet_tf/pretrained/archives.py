"""Getting a published checkpoint onto the disk: download once, unpack
safely, find the checkpoint prefix inside."""

import glob
import os
import shutil
import tarfile

import keras


class PretrainedArchiveError(ValueError):
    """A file given as a pretrained checkpoint holds no usable checkpoint."""


def _extract(archive, cache_dir):
    """Extracts `archive` beside the cache once; returns the folder."""
    stem = os.path.basename(archive)
    for suffix in (".tar.gz", ".tgz", ".tar"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    target = os.path.join(cache_dir, stem)
    if os.path.isdir(target) and glob.glob(os.path.join(target, "**", "*.index"),
                                           recursive=True):
        return target
    try:
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if m.isfile()]
            for member in members:
                if os.path.isabs(member.name) or ".." in member.name.split("/"):
                    raise PretrainedArchiveError(
                        f"{archive}: refusing member {member.name!r} outside the "
                        "archive's folder.")
            partial = target + ".partial"
            shutil.rmtree(partial, ignore_errors=True)  # a failed earlier try
            # The "data" filter (Python >= 3.11.4) also refuses links and
            # special files; the check above covers older patch releases.
            options = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(partial, members=members, **options)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise PretrainedArchiveError(
            f"{archive} is not a readable .tar.gz archive: {error}") from None
    shutil.rmtree(target, ignore_errors=True)  # an earlier one without a checkpoint
    os.replace(partial, target)
    return target


def resolve_checkpoint(path, cache_dir=None):
    """A checkpoint prefix from a prefix, a folder or a `.tar.gz` archive."""
    path = os.fspath(path)
    if os.path.isfile(path) and tarfile.is_tarfile(path):
        path = _extract(path, cache_dir or os.path.dirname(os.path.abspath(path)))
    if os.path.isdir(path):
        prefixes = sorted(p[: -len(".index")] for p in glob.glob(
            os.path.join(path, "**", "*.index"), recursive=True))
        if not prefixes:
            raise PretrainedArchiveError(
                f"{path} holds no checkpoint (no '*.index' file in it or below).")
        if len(prefixes) > 1:
            raise PretrainedArchiveError(
                f"{path} holds {len(prefixes)} checkpoints ({prefixes[:3]}); pass "
                "one prefix.")
        return prefixes[0]
    if not os.path.exists(path + ".index"):
        raise FileNotFoundError(
            f"No checkpoint at {path!r}: expected a .tar.gz archive, a folder, or "
            f"a prefix with {path + '.index'!r} beside its data files.")
    return path


def download(preset, cache_dir=None):
    """The preset's archive, fetched once into Keras' cache (`$KERAS_HOME`
    or `~/.keras`, or `cache_dir`) under `models/spinenet_tf/`."""
    if not preset.url:
        raise PretrainedArchiveError(f"{preset.name}: no checkpoint was published "
                                     f"({preset.notes})")
    # get_file falls back to /tmp/.keras when the folder does not exist yet.
    cache_dir = cache_dir or os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras"))
    os.makedirs(cache_dir, exist_ok=True)
    return keras.utils.get_file(
        fname=os.path.basename(preset.url), origin=preset.url, cache_dir=cache_dir,
        cache_subdir=os.path.join("models", "spinenet_tf"))
