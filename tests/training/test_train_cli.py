"""`train.py` end to end in real subprocesses: exact resume after SIGKILL,
MirroredStrategy on two logical CPUs, two MultiWorkerMirroredStrategy
workers on 127.0.0.1."""

import glob
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from support import ROOT, SHORT_MOBILE_BLOCK_SPECS, TRAINED_EVERY, TRAINED_STEPS, train_command
from support import assert_ends_as_the_uninterrupted_run
from support import final_weights as weights
from support import run_command as run


@pytest.mark.slow
def test_sigkilled_run_resumes_past_a_truncated_checkpoint_to_bit_identical_weights(
        synthetic_data, trained_run, tmp_path):
    """SIGKILL at a seeded time; then a newer checkpoint cut short (as a
    full disk or a killed copy leaves one) is put beside the real ones. The
    rerun names it, sets it aside, resumes from the newest that reads and
    ends with the weights of the uninterrupted run."""
    steps, every = TRAINED_STEPS, TRAINED_EVERY
    straight = trained_run  # the uninterrupted run

    resumed = str(tmp_path / "resumed")
    command = train_command(synthetic_data, resumed, steps, every)
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    checkpoints = os.path.join(resumed, "checkpoints")
    deadline = time.time() + 600
    while time.time() < deadline and process.poll() is None:
        if os.path.isdir(checkpoints) and any(
                n.startswith(f"ckpt-{every}.index") for n in os.listdir(checkpoints)):
            break
        time.sleep(0.2)
    time.sleep(random.Random(0).uniform(0.0, 1.5))  # inside a later chunk, seeded
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    newest = tf.train.latest_checkpoint(checkpoints)
    step = int(newest.rsplit("-", 1)[1])
    truncated = os.path.join(checkpoints, f"ckpt-{step + every}")
    for source in glob.glob(newest + ".*"):
        shutil.copy(source, truncated + source[len(newest):])
    data = glob.glob(truncated + ".data-*")[0]
    with open(data, "r+b") as f:
        f.truncate(os.path.getsize(data) // 2)
    result = run(command)
    assert f"Skipped checkpoint {truncated}: Checkpoint {truncated} cannot be read" in (
        result.stdout), result.stdout
    assert f"Resumed from {newest} (the newest that reads" in result.stdout, result.stdout
    assert os.path.exists(data + ".unreadable")

    assert_ends_as_the_uninterrupted_run(straight, resumed, steps, every)
    metrics = json.load(open(os.path.join(resumed, "metrics.json")))
    assert metrics["step"] == steps and "AP" in metrics and "AP50" in metrics
    for name in ("curves.png", "detections.png", "model.keras", "config.yaml"):
        assert os.path.exists(os.path.join(resumed, name)), name


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus(synthetic_data, tmp_path):
    model_dir = str(tmp_path / "mirrored")
    result = run(train_command(synthetic_data, model_dir, 4, 2, [
        "--strategy", "mirrored", "--cpu_devices", "2"]))
    assert "results in" in result.stdout
    log = json.load(open(os.path.join(model_dir, "training_log.json")))
    assert all(np.isfinite(e["loss"]) for e in log)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_multi_worker_processes_end_with_identical_weights(synthetic_data, tmp_path):
    # Sync BN, as the recipes: unsynchronised batch norm keeps each
    # replica's own moving statistics under Keras 3.
    model_dir = str(tmp_path / "multi_worker")
    workers = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    processes = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}))
        processes.append(subprocess.Popen(
            train_command(synthetic_data, model_dir, 4, 2, [
                "--strategy", "multi_worker_mirrored", "--set", "model.use_sync_bn=true"]),
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for process in processes:
        _, stderr = process.communicate(timeout=900)
        assert process.returncode == 0, stderr[-3000:]
    chief = weights(model_dir)
    other = weights(os.path.join(model_dir, "workers", "worker_1"))
    assert chief.keys() == other.keys()
    for name in chief:
        np.testing.assert_array_equal(other[name], chief[name], err_msg=name)
    assert os.path.exists(os.path.join(model_dir, "metrics.json"))


@pytest.mark.slow
def test_classifier_trains_on_an_image_folder_and_reports_its_accuracy(tmp_path):
    import keras
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
    # 8 logits for 3 folders: top-5 is not trivially 1.
    for override in ("model.backbone=spinenet-mobile-49xs", "model.image_size=[128,128]",
                     f"model.block_specs={json.dumps(SHORT_MOBILE_BLOCK_SPECS)}",
                     "model.num_classes=8", "model.use_sync_bn=false",
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
    assert metrics["step"] == 4
    # The reported accuracies are the saved model's on the folder, computed
    # here independently (labels: sorted folder names).
    model = keras.saving.load_model(os.path.join(model_dir, "model.keras"), compile=False)
    logits, labels = [], []
    for label, name in enumerate(("blue", "green", "red")):
        for index in range(4):
            image = tf.io.decode_png(tf.io.read_file(
                str(tmp_path / "images" / name / f"{index}.png")), channels=3)
            logits.append(model(model.preprocessor.normalize(image[None]),
                                training=False)[0].numpy())
            labels.append(label)
    ranks = np.argsort(-np.asarray(logits), axis=1)
    top1 = np.mean(ranks[:, 0] == labels)
    top5 = np.mean([label in row[:5] for label, row in zip(labels, ranks)])
    assert metrics["top1"] == pytest.approx(top1, abs=1e-6)
    assert metrics["top5"] == pytest.approx(top5, abs=1e-6)
