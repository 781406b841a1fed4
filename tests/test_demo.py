"""The demo's configuration (the demo itself runs in the README command)."""

import json
import os
import subprocess
import sys

from spinenet_tf.demo import demo_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def test_demo_output_is_quiet_and_ends_with_the_figures_and_files(tmp_path):
    """The README's main command at toy size, its output going to a pipe as
    in a CI log: plain lines (no bar redraws or ANSI codes), no C++ log
    lines or retracing warnings, and a final table of figures and files
    that exist."""
    command = [sys.executable, "-m", "spinenet_tf.demo", "--output_dir", str(tmp_path),
               "--train_steps", "4", "--num_train", "16", "--num_val", "4"]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env,
                            timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    for noise in ("\x1b[", "\b", "\r", "W0000", "I0000", "Created TensorFlow Lite",
                  "absl::InitializeLog",
                  "cpu_feature_guard", "oneDNN custom operations", "retracing"):
        assert noise not in output, (noise, output[-4000:])
    assert "4/4 - " in result.stdout  # the epoch as one plain line
    table = result.stdout[result.stdout.index("\nDone in "):]
    for row in ("Keras model (trained, ", "SavedModel (batch norm folded, float32)",
                "TFLite int8 (uint8 input, LiteRT)"):
        assert row in table
    listed = [line.split()[0] for line in table.splitlines() if line.startswith(f"  {tmp_path}")]
    assert len(listed) == 9 and all(os.path.exists(path) for path in listed)
    assert os.path.exists(tmp_path / "export" / "native_log.txt")  # the chatter, kept
    summary = json.load(open(tmp_path / "demo.json"))
    assert summary["precision"] in ("float32", "bfloat16") and summary["step"] == 4
