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


# The tests that take a minute or more on 2 cores (`--durations`), started
# first so that pytest-xdist's workers do not end with one of them alone.
LONGEST_FIRST = (
    "test_demo_from_a_wheel_is_quiet_and_ends_with_the_figures_and_files",
    "test_bfloat16_mixed_precision_training_follows_float32",
    "test_two_multi_worker_processes_end_with_identical_weights",
    "test_sigkilled_run_resumes_to_bit_identical_weights",
    "test_mirrored_strategy_on_two_logical_cpus",
    "test_export_of_a_trained_model_dir_serves_its_detections",
    "test_fit_lowers_the_loss_and_reports_both_terms",
    "test_torch_backend_matches_tensorflow",
    "test_classifier_trains_on_an_image_folder_and_reports_its_accuracy",
    "test_export_of_a_model_garden_checkpoint_serves_model_garden_detections",
    "test_classifier_pools_the_coarsest_level_and_trains",
    "test_search_killed_after_two_trials_resumes_to_three",
)


def pytest_collection_modifyitems(items):
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.originalname or item.name, len(rank)))
