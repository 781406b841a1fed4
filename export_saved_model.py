"""`spinenet-export` from a checkout: `python export_saved_model.py --help` lists the flags
(spinenet_tf/cli/export.py documents them)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from spinenet_tf.cli.export import run  # noqa: E402

if __name__ == "__main__":
    run()
