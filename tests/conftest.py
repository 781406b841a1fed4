"""Test-session setup. Shared helpers live in `spinenet_tf.testing`."""

import os

# Quiet TensorFlow's C++ info lines in the test process (the library itself
# leaves the user's environment alone).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory):
    """The synthetic shapes at 128 px: 24 training and 4 validation images."""
    from spinenet_tf.data import synthetic

    folder = tmp_path_factory.mktemp("synthetic")
    synthetic.generate(str(folder), num_train=24, num_val=4, image_size=128, seed=0)
    return str(folder)


@pytest.fixture(scope="session")
def trained_run(synthetic_data, tmp_path_factory):
    """A `train.py` model folder (deterministic, 128 px, one-conv head,
    `TRAINED_STEPS` steps, a checkpoint every `TRAINED_EVERY`). Made once
    per pytest-xdist worker that runs a test needing it."""
    from spinenet_tf.testing import TRAINED_EVERY, TRAINED_STEPS, run_command, train_command

    model_dir = str(tmp_path_factory.mktemp("trained") / "run")
    run_command(train_command(synthetic_data, model_dir, TRAINED_STEPS, TRAINED_EVERY))
    return model_dir

