"""`train.py` end to end in real subprocesses: exact resume after SIGKILL,
MirroredStrategy on two logical CPUs, two MultiWorkerMirroredStrategy
workers on 127.0.0.1."""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from spinenet_tf.data import synthetic

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = os.path.join(ROOT, "configs", "retinanet_mobile_synthetic_demo.yaml")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic")
    synthetic.generate(str(folder), num_train=24, num_val=4, image_size=128, seed=0)
    return str(folder)


def train_command(data, model_dir, steps, every, extra=()):
    overrides = {
        "model.image_size": "[128,128]", "model.head_num_convs": 1,
        "model.head_num_filters": 8, "train_data.batch_size": 4,
        "eval_data.batch_size": 4, "trainer.train_steps": steps,
        "trainer.checkpoint_every": every, "trainer.eval_every": 0,
        "optimizer.boundaries": "[]", "optimizer.values": "[0.02]",
        "optimizer.warmup_steps": 4, "trainer.deterministic": "true",
    }
    for split in ("train", "val"):
        key = "train_data" if split == "train" else "eval_data"
        overrides[f"{key}.annotations"] = os.path.join(data, split, "annotations.json")
        overrides[f"{key}.image_dir"] = os.path.join(data, split, "images")
    command = [sys.executable, os.path.join(ROOT, "train.py"), "--config", CONFIG,
               "--model_dir", model_dir, "--verbose", "0"]
    for key, value in overrides.items():
        command += ["--set", f"{key}={value}"]
    return command + list(extra)


def weights(path):
    values = []
    with h5py.File(path) as f:
        f.visititems(lambda name, item: values.append((name, item[()]))
                     if isinstance(item, h5py.Dataset) else None)
    return dict(values)


def run(command, **kwargs):
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                            timeout=900, **kwargs)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_sigkilled_run_resumes_to_bit_identical_weights(tiny_data, tmp_path):
    steps, every = 24, 4
    straight = str(tmp_path / "straight")
    run(train_command(tiny_data, straight, steps, every))

    resumed = str(tmp_path / "resumed")
    command = train_command(tiny_data, resumed, steps, every)
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    checkpoints = os.path.join(resumed, "checkpoints")
    deadline = time.time() + 600
    while time.time() < deadline and process.poll() is None:
        if os.path.isdir(checkpoints) and any(
                n.startswith("ckpt-8.index") for n in os.listdir(checkpoints)):
            break
        time.sleep(0.2)
    time.sleep(random.uniform(0.0, 1.5))  # somewhere inside a later chunk
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    run(command)

    expected, received = weights(os.path.join(straight, "final.weights.h5")), weights(
        os.path.join(resumed, "final.weights.h5"))
    assert expected.keys() == received.keys() and len(expected) > 100
    for name in expected:
        np.testing.assert_array_equal(received[name], expected[name], err_msg=name)
    log = json.load(open(os.path.join(resumed, "training_log.json")))
    assert [e["step"] for e in log] == list(range(every, steps + 1, every))
    metrics = json.load(open(os.path.join(resumed, "metrics.json")))
    assert metrics["step"] == steps and "AP" in metrics and "AP50" in metrics
    for name in ("curves.png", "detections.png", "model.keras", "config.yaml"):
        assert os.path.exists(os.path.join(resumed, name)), name


def test_mirrored_strategy_on_two_logical_cpus(tiny_data, tmp_path):
    model_dir = str(tmp_path / "mirrored")
    result = run(train_command(tiny_data, model_dir, 4, 2, [
        "--strategy", "mirrored", "--cpu_devices", "2"]))
    assert "results in" in result.stdout
    log = json.load(open(os.path.join(model_dir, "training_log.json")))
    assert all(np.isfinite(e["loss"]) for e in log)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_multi_worker_processes_end_with_identical_weights(tiny_data, tmp_path):
    # Sync BN, as the recipes: unsynchronised batch norm keeps each
    # replica's own moving statistics under Keras 3.
    model_dir = str(tmp_path / "multi_worker")
    workers = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    processes = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}))
        processes.append(subprocess.Popen(
            train_command(tiny_data, model_dir, 4, 2, [
                "--strategy", "multi_worker_mirrored", "--set", "model.use_sync_bn=true"]),
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for process in processes:
        _, stderr = process.communicate(timeout=900)
        assert process.returncode == 0, stderr[-3000:]
    chief = weights(os.path.join(model_dir, "final.weights.h5"))
    other = weights(os.path.join(model_dir, "workers", "worker_1", "final.weights.h5"))
    assert chief.keys() == other.keys()
    for name in chief:
        np.testing.assert_array_equal(other[name], chief[name], err_msg=name)
    assert os.path.exists(os.path.join(model_dir, "metrics.json"))


def test_classifier_trains_on_an_image_folder(tmp_path):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    for name, channel in (("red", 0), ("green", 1), ("blue", 2)):
        folder = tmp_path / "images" / name
        folder.mkdir(parents=True)
        for index in range(4):
            image = rng.integers(0, 80, (128, 128, 3)).astype("uint8")
            image[..., channel] = 220
            tf.io.write_file(str(folder / f"{index}.png"), tf.io.encode_png(image))
    model_dir = str(tmp_path / "classifier")
    config = os.path.join(ROOT, "configs", "classifier_spinenet49_imagenet.yaml")
    command = [sys.executable, os.path.join(ROOT, "train.py"), "--config", config,
               "--model_dir", model_dir, "--verbose", "0"]
    for override in ("model.backbone=spinenet-mobile-49xs", "model.image_size=[128,128]",
                     "model.num_classes=3", "model.use_sync_bn=false",
                     f"train_data.image_dir={tmp_path / 'images'}",
                     f"eval_data.image_dir={tmp_path / 'images'}",
                     "train_data.batch_size=4", "eval_data.batch_size=4",
                     "trainer.train_steps=4", "trainer.checkpoint_every=2",
                     "trainer.eval_every=0", "trainer.mixed_precision=null",
                     "optimizer.boundaries=[]", "optimizer.values=[0.01]",
                     "optimizer.warmup_steps=0"):
        command += ["--set", override]
    run(command)
    metrics = json.load(open(os.path.join(model_dir, "metrics.json")))
    assert metrics["step"] == 4 and 0.0 <= metrics["top1"] <= 1.0
    assert metrics["top5"] == 1.0  # 3 classes: the top 5 always contain the label
