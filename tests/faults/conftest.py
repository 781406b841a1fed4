"""What the fault-injection tests share: a small disk to fill."""

import shutil
import subprocess
import uuid

import pytest


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs, where this machine lets the tests mount one (root or
    CAP_SYS_ADMIN); the test is skipped with the reason otherwise."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip()}): the full-disk "
                    "cases need root or CAP_SYS_ADMIN")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def fill_disk():
    """`fill(disk, leave)`: fills the file system of `disk` up to `leave`
    free bytes; returns the filler file (remove it to free the space)."""
    def fill(disk, leave):
        filler = disk / f"filler-{uuid.uuid4().hex}"
        with open(filler, "wb") as f:
            f.write(b"\0" * max(shutil.disk_usage(disk).free - leave, 0))
        return filler

    return fill
