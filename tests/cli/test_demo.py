"""The demo's configuration, and the demo itself run from an installed
wheel, in a fresh virtual environment, from another folder."""

import json
import os
import subprocess
import sys
import sysconfig

import pytest
from support import ROOT

from spinenet_tf.cli.demo import demo_config


def test_demo_config_points_at_the_generated_data(tmp_path):
    config = demo_config(str(tmp_path))
    assert config.train_data.annotations == str(tmp_path / "train" / "annotations.json")
    assert config.eval_data.image_dir == str(tmp_path / "val" / "images")
    assert config.model.backbone == "spinenet-mobile-49xs"


def test_shorter_demo_runs_keep_a_valid_schedule(tmp_path):
    config = demo_config(str(tmp_path), train_steps=30)
    assert config.trainer.train_steps == 30
    assert all(b < 30 for b in config.optimizer.boundaries)
    assert len(config.optimizer.values) == len(config.optimizer.boundaries) + 1


def installed_wheel(folder):
    """A fresh virtual environment with spinenet_tf installed from a wheel
    built from this checkout; its dependencies are this environment's, read
    through a path file, so none of this checkout's source is importable."""
    wheels = folder / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(wheels), ROOT],
                   check=True, capture_output=True, cwd=ROOT, timeout=300)
    (wheel,) = wheels.glob("spinenet_tf-*.whl")
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    # Not a site folder of the new environment: its .pth files (this
    # checkout's editable install) are not read.
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", str(wheel)], check=True, capture_output=True, timeout=300)
    return venv


@pytest.mark.slow
def test_demo_from_a_wheel_is_quiet_and_ends_with_the_figures_and_files(tmp_path):
    """The README's main command at toy size, as the installed console
    script `spinenet-demo` run in an empty folder, its output going to a pipe
    as in a CI log: plain lines (no bar redraws or ANSI codes), no C++ log
    lines or retracing warnings, and a final table of figures and files
    that exist."""
    venv = installed_wheel(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",
                                                            "PYTHONPATH")}
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import spinenet_tf.configs as c, "
         "spinenet_tf.config as k; print(c.__file__); print(k.config_names())"],
        capture_output=True, text=True, cwd=elsewhere, env=env, check=True)
    assert where.stdout.startswith(str(venv)), where.stdout
    assert "retinanet_mobile_synthetic_demo" in where.stdout
    command = [str(venv / "bin" / "spinenet-demo"), "--output_dir", "out",
               "--train_steps", "4", "--num_train", "16", "--num_val", "4"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=elsewhere,
                            env=env, timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    for noise in ("\x1b[", "\b", "\r", "W0000", "I0000", "Created TensorFlow Lite",
                  "absl::InitializeLog",
                  "cpu_feature_guard", "oneDNN custom operations", "retracing",
                  "Warning:", "Traceback"):
        assert noise not in output, (noise, output[-4000:])
    assert "4/4 - " in result.stdout  # the epoch as one plain line
    table = result.stdout[result.stdout.index("\nDone in "):]
    for row in ("Keras model (trained, ", "SavedModel (batch norm folded, float32)",
                "TFLite int8 (uint8 input, LiteRT)"):
        assert row in table
    out = elsewhere / "out"
    listed = [line.split()[0] for line in table.splitlines() if line.startswith(f"  {out}")]
    assert len(listed) == 9 and all(os.path.exists(path) for path in listed)
    assert os.path.exists(out / "export" / "native_log.txt")  # the chatter, kept
    summary = json.load(open(out / "demo.json"))
    assert summary["precision"] in ("float32", "bfloat16") and summary["step"] == 4
