"""`spinenet-train` from a checkout: `python train.py --help` lists the flags
(spinenet_tf/cli/train.py documents them)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from spinenet_tf.cli.train import run  # noqa: E402

if __name__ == "__main__":
    run()
