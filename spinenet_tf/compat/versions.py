"""The library versions the private internals were tested with."""

import functools
import importlib.metadata

from packaging.specifiers import SpecifierSet
from packaging.version import Version

# Distribution -> the versions every internal of it used here was tested with.
TESTED = {
    "keras": ">=3.15,<3.16",
    "tensorflow": ">=2.20,<2.22",  # 2.20 and 2.21: CI runs both
    "mediapipe": ">=0.10.30,<2",
    # The test oracle and the source of the twin-model weight transfer.
    "tf-models-official": ">=2.20,<2.21",
}


class InternalChanged(RuntimeError):
    """A private library internal this package relies on is missing, or the
    installed library is outside the versions it was tested with."""


@functools.cache
def installed_version(distribution):
    """The installed version of `distribution`, or None. Looked up once a
    process: tracing a train step checks an internal for every variable."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def require(distribution, internal, version=None):
    """Checks that `internal` (a readable name such as
    "keras.Optimizer._momentums") may be used with the installed
    `distribution` (or `version`, for tests); raises `InternalChanged`
    naming both otherwise."""
    version = version or installed_version(distribution)
    tested = TESTED[distribution]
    if not _within(version, tested):
        raise InternalChanged(
            f"spinenet_tf uses the private {internal}, tested with "
            f"{distribution}{tested}; installed: {distribution} {version}. Install a "
            f"tested version (pip install '{distribution}{tested}'), or check that "
            f"{internal} still behaves the same and widen TESTED in "
            "spinenet_tf/compat/versions.py.")


@functools.cache
def _within(version, tested):
    return version is not None and Version(version) in SpecifierSet(tested)


def private_attribute(owner, name, distribution, internal):
    """`getattr(owner, name)` for a private attribute, after `require`; an
    `InternalChanged` naming it if it is gone."""
    require(distribution, internal)
    try:
        return getattr(owner, name)
    except AttributeError:
        raise InternalChanged(
            f"spinenet_tf uses the private {internal}, which the installed "
            f"{distribution} {installed_version(distribution)} does not have "
            f"(tested with {distribution}{TESTED[distribution]}).") from None
