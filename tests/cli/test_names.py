"""A name that does not exist (a preset, a recipe, a backbone variant, a
config key) is one `error:` line from the real command, with the closest
names; nothing is written."""

import os
import subprocess
import sys

import pytest
from support import ROOT

BIN = os.path.dirname(sys.executable)

CASES = {
    "preset": ([os.path.join(BIN, "spinenet-pretrained"), "convert", "--name",
                "retinanet-spinenet-94", "--output_dir", "{tmp}/converted"],
               "Unknown pretrained checkpoint 'retinanet-spinenet-94' (did you mean "
               "'retinanet-spinenet-96'"),
    "recipe": ([sys.executable, "train.py", "--config", "retinanet_spinenet49_cocoo",
                "--model_dir", "{tmp}/run"],
               "(did you mean 'retinanet_spinenet49_coco'"),
    "variant": ([os.path.join(BIN, "spinenet-summary"), "--model", "spinenet-94"],
                "Unknown backbone variant 'spinenet-94' (did you mean 'spinenet-96'"),
    "config key": ([sys.executable, "train.py", "--config", "retinanet_mobile_synthetic_demo",
                    "--model_dir", "{tmp}/run", "--set", "trainer.train_stpes=3"],
                   "trainer.train_stpes is not a setting (did you mean 'train_steps'?)"),
    "variant in a config": ([sys.executable, "train.py", "--config",
                             "retinanet_mobile_synthetic_demo", "--model_dir", "{tmp}/run",
                             "--set", "model.backbone=spinenet-mobile-94"],
                            "(did you mean 'spinenet-mobile-49'"),
}


@pytest.mark.slow
def test_unknown_names_are_one_line_with_the_closest(tmp_path):
    running = {case: subprocess.Popen([a.format(tmp=tmp_path) for a in command], cwd=ROOT,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True)
               for case, (command, _) in CASES.items()}
    for case, process in running.items():
        out, err = process.communicate(timeout=300)
        lines = [line for line in err.splitlines() if line.strip()]
        assert process.returncode == 2, (case, err[-2000:])
        assert lines[0].startswith("error: ") and CASES[case][1] in lines[0], (case, err)
        assert lines[1:] == ["(run with --debug for the traceback)"], (case, err)
    assert os.listdir(tmp_path) == []
