"""Ctrl-C and two runs in one folder, with real processes and real signals:
SIGINT is one line (what stopped, the newest checkpoint, the command that
resumes) and exit status 130; a rerun after SIGINTs (one at a seeded
moment, one inside a checkpoint write) ends with the weights of the
uninterrupted run; a second run into a live run's folder stops at once
naming it; a lock left by a SIGKILLed run is taken over with a message."""

import glob
import os
import random
import shlex
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf
from support import ROOT, TRAINED_EVERY, TRAINED_STEPS, train_command
from support import assert_ends_as_the_uninterrupted_run
from support import run_command as run

from spinenet_tf.utils.run_lock import LOCK_FILE, RunLock

# train.py with `Checkpoint._write` (what CheckpointManager.save calls)
# wrapped to send this process SIGINT right after the files of checkpoint
# `sys.argv[1]` are written, before the run has verified them.
INTERRUPTED_IN_A_WRITE = """
import os, signal, sys
import tensorflow as tf
original, target = tf.train.Checkpoint._write, sys.argv.pop(1)
def write(self, prefix, *args, **kwargs):
    path = original(self, prefix, *args, **kwargs)
    if os.path.basename(str(prefix)) == target:
        os.kill(os.getpid(), signal.SIGINT)
    return path
tf.train.Checkpoint._write = write
sys.argv = sys.argv[1:]  # train.py's path and its flags
from spinenet_tf.cli.train import run
run()
"""


def ctrl_c_reaches_it():
    """For `preexec_fn`: SIGINT as a terminal's Ctrl-C, whatever this process
    inherited. A shell starting a command in the background (`cmd &`) ignores
    SIGINT for it, and Python keeps an ignored SIGINT ignored, so without this
    the child would never see the signal when the suite runs that way."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(predicate, process, seconds=600):
    deadline = time.time() + seconds
    while time.time() < deadline and process.poll() is None and not predicate():
        time.sleep(0.2)
    assert process.poll() is None, "the run ended first"


def interrupted_line(stderr):
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert lines[-1].startswith("interrupted: "), stderr[-3000:]
    return lines[-1]


def checkpoint_steps(folder):
    return sorted(int(p.rsplit("-", 1)[1].split(".")[0])
                  for p in glob.glob(os.path.join(folder, "checkpoints", "ckpt-*.index")))


@pytest.mark.slow
def test_ctrl_c_twice_then_a_rerun_ends_as_the_uninterrupted_run(synthetic_data, trained_run,
                                                                tmp_path):
    steps, every = TRAINED_STEPS, TRAINED_EVERY
    folder = str(tmp_path / "run")
    checkpoints = os.path.join(folder, "checkpoints")
    command = train_command(synthetic_data, folder, steps, every)

    # 1. SIGINT inside the write of the second checkpoint: it is removed and
    #    the first, whole, stays the newest listed.
    first = subprocess.run([sys.executable, "-c", INTERRUPTED_IN_A_WRITE,
                            f"ckpt-{2 * every}"] + command[1:],
                           cwd=ROOT, capture_output=True, text=True, timeout=600,
                           preexec_fn=ctrl_c_reaches_it)
    assert first.returncode == 130, first.stderr[-3000:]
    newest = os.path.join(checkpoints, f"ckpt-{every}")
    assert checkpoint_steps(folder) == [every]
    assert tf.train.latest_checkpoint(checkpoints) == newest
    line = interrupted_line(first.stderr)
    said = (f"interrupted: training in {folder} stopped; its newest checkpoint is {newest}. "
            "The same command resumes from it: ")
    assert line.startswith(said) and shlex.split(line[len(said):]) == ["python"] + command[1:]

    # 2. SIGINT at a seeded moment after the resumed run's next checkpoint.
    second = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, preexec_fn=ctrl_c_reaches_it)
    wait_for(lambda: checkpoint_steps(folder)[-1] > every, second)
    time.sleep(random.Random(0).uniform(0.0, 0.5))
    second.send_signal(signal.SIGINT)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 130, err[-3000:]
    assert f"Resumed from {newest}" in out, out[-3000:]
    now_newest = tf.train.latest_checkpoint(checkpoints)
    assert f"its newest checkpoint is {now_newest}." in interrupted_line(err)

    # 3. The same command again ends as the uninterrupted run did.
    run(command)
    assert_ends_as_the_uninterrupted_run(trained_run, folder, steps, every)
    with open(os.path.join(folder, LOCK_FILE)) as f:
        assert f.read() == ""  # released by each run, the interrupted ones too


@pytest.mark.slow
def test_a_second_run_into_a_live_runs_folder_stops_and_a_killed_runs_lock_is_taken_over(
        synthetic_data, tmp_path, capsys):
    folder = str(tmp_path / "run")
    command = train_command(synthetic_data, folder, 400, 4)  # runs until killed
    holder = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    lock = os.path.join(folder, LOCK_FILE)
    try:
        wait_for(lambda: os.path.exists(lock) and os.path.getsize(lock), holder)
        others = {  # a second training run and a search, at once
            "training run": subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE, text=True),
            "search": subprocess.Popen(
                [os.path.join(os.path.dirname(sys.executable), "spinenet-search"),
                 "--output_dir", folder, "--trials", "1"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)}
        for kind, process in others.items():
            _, err = process.communicate(timeout=300)
            assert process.returncode == 2, (kind, err[-3000:])
            assert (f"FolderInUseError: {folder} is in use by another training run: process "
                    f"{holder.pid} on ") in err, (kind, err[-3000:])
        assert holder.poll() is None
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with RunLock(folder, "search"):
        out = capsys.readouterr().out
        assert f"left by the training run of process {holder.pid} on " in out and "no longer runs" in out
    with RunLock(folder, "search"):  # released cleanly: nothing to say
        assert capsys.readouterr().out == ""
