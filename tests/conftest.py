"""Test-session setup. Shared helpers live in `support.py` beside this file."""

import fcntl
import gc
import os
import shutil

# Quiet TensorFlow's C++ info lines in the test process (the library itself
# leaves the user's environment alone).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# pytest-xdist runs one worker a core; TensorFlow would give each worker a
# pool of op threads as wide as the machine, so the pools would contend.
# Each worker (and the processes its tests start) gets its share instead.
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _workers > 1:
    _share = str(max(1, (os.cpu_count() or 1) // _workers))
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", _share)
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", _share)

import pytest  # noqa: E402


def pytest_collection_finish(session):
    """What collection imported (TensorFlow, Keras, the package, the test
    modules) stays for the whole session: frozen out of the garbage
    collector's full passes, which a worker otherwise repeats over it as
    tests build models (31 tests of tests/quantization and RetinaNet: 8.5
    s of collection without, 5.2 s with)."""
    gc.freeze()


def _made_once(tmp_path_factory, name, make):
    """A folder `make(path)` fills, made once for the whole test session:
    the pytest-xdist workers share it (the first to ask makes it while the
    others wait on a lock), instead of each making its own."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by the workers of this session
    folder, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                if folder.exists():
                    shutil.rmtree(folder)
                make(str(folder))
                done.write_text("")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return str(folder)


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory):
    """The synthetic shapes at 128 px: 24 training and 4 validation images."""
    from spinenet_tf.data import synthetic

    return _made_once(tmp_path_factory, "synthetic", lambda folder: synthetic.generate(
        folder, num_train=24, num_val=4, image_size=128, seed=0))


@pytest.fixture(scope="session")
def trained_run(synthetic_data, tmp_path_factory):
    """A `train.py` model folder (deterministic, 128 px, one-conv head,
    `TRAINED_STEPS` steps, a checkpoint every `TRAINED_EVERY`), made once
    for all workers. Tests copy it before changing it."""
    from support import TRAINED_EVERY, TRAINED_STEPS, run_command, train_command

    return _made_once(tmp_path_factory, "trained_run", lambda folder: run_command(
        train_command(synthetic_data, folder, TRAINED_STEPS, TRAINED_EVERY)))

