"""The README's first two commands: the main job and the tests, the second
being exactly what CI runs (`.ci/run`)."""

import os

from support import ROOT, readme_commands


def test_the_readme_starts_with_the_main_job_and_the_test_command():
    main_job, tests = readme_commands()[:2]
    assert main_job.endswith("spinenet-demo"), main_job
    assert "pytest" in tests and "tensorflow==2.21" in tests, tests


def test_ci_runs_exactly_the_readmes_test_command():
    tests = readme_commands()[1]
    with open(os.path.join(ROOT, ".ci", "run")) as ci:
        lines = [line.strip() for line in ci if line.strip() and not line.startswith("#")]
    assert tests in lines, (tests, lines)
