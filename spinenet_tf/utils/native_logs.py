"""Keeps C++ log chatter of the TFLite converter and LiteRT off the console.

The converter (MLIR, absl logging) and the LiteRT interpreter write INFO and
WARNING lines such as `W0000 00:00:... Ignored output_format.` or
`INFO: Created TensorFlow Lite XNNPACK delegate for CPU.` straight to the
process's standard error, below Python and beyond `TF_CPP_MIN_LOG_LEVEL`.
`native_log_filter` redirects file descriptor 2 for a block of work and
afterwards writes back every line that is not such chatter; the chatter
itself goes to `log_path` when one is given, so nothing is lost.
"""

import contextlib
import os
import re
import sys
import tempfile

# INFO / WARNING lines of absl's C++ logging ("I1122 10:00:00.000000  123
# file.cc:10] ...", or with "0000" when logging starts before absl is
# initialised) and LiteRT's own logger; errors and fatal lines are kept.
CHATTER = (
    re.compile(r"^[IW]\d{4} [\d:.]+\s+\d+ [\w./-]+:\d+\] "),
    re.compile(r"^INFO: (Created TensorFlow Lite|Initialized TensorFlow Lite)"),
    re.compile(r"^(fully_quantize|Estimated count of arithmetic ops):"),
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called"),
)


def is_chatter(line):
    return any(pattern.match(line) for pattern in CHATTER)


@contextlib.contextmanager
def native_log_filter(log_path=None):
    """Within the block, C++ INFO/WARNING lines on stderr are held back (and
    appended to `log_path`); all other stderr output comes out after it."""
    try:
        descriptor = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (notebooks)
        yield
        return
    sys.stderr.flush()
    saved = os.dup(descriptor)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), descriptor)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, descriptor)
            os.close(saved)
            capture.seek(0)
            lines = capture.read().decode("utf-8", "replace").splitlines(keepends=True)
            kept = [line for line in lines if not is_chatter(line)]
            sys.stderr.write("".join(kept))
            sys.stderr.flush()
            if log_path and len(kept) < len(lines):
                with open(log_path, "a") as log:
                    log.writelines(line for line in lines if is_chatter(line))
