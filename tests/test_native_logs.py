"""C++ log chatter is held back from stderr (and kept in a file); everything
else written to the stderr file descriptor still comes out."""

import os
import subprocess
import sys

from spinenet_tf.utils.native_logs import is_chatter

SCRIPT = r"""
import os, sys
from spinenet_tf.utils.native_logs import native_log_filter
os.write(2, b"-- filter on --\n")
with native_log_filter(sys.argv[1]):
    os.write(2, b"W0000 00:00:1732270000.123456   42 tf_tfl_flatbuffer_helpers.cc:365] Ignored output_format.\n")
    os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    os.write(2, b"E0000 00:00:1732270000.123456   42 converter.cc:1] a real error\n")
    print("python warning", file=sys.stderr)
print("stdout line")
"""


def test_chatter_goes_to_the_log_file_and_the_rest_to_stderr(tmp_path):
    log = tmp_path / "native_log.txt"
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(log)],
                            capture_output=True, text=True, check=True,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.stdout == "stdout line\n"
    # TensorFlow 2.21 writes C++ lines while it is imported, before the
    # filter is on, whatever TF_CPP_MIN_LOG_LEVEL says.
    after_import = result.stderr.split("-- filter on --\n", 1)[1]
    assert after_import.splitlines() == [
        "E0000 00:00:1732270000.123456   42 converter.cc:1] a real error", "python warning"]
    assert "Ignored output_format." in log.read_text()
    assert "XNNPACK delegate" in log.read_text()


def test_what_counts_as_chatter():
    assert is_chatter("I1122 10:00:00.000001  123 cpu_feature_guard.cc:210] This TensorFlow")
    assert not is_chatter("F1122 10:00:00.000001  123 op.cc:1] Check failed")
    assert not is_chatter("Traceback (most recent call last):")
