"""What the command-line programs share: errors about the user's input as
one line, tracebacks only with `--debug`; Ctrl-C as one line saying what
was interrupted and how to resume, exit status 130; TensorFlow's Python
INFO lines ("Assets written to ...") hidden unless `--verbosity` asks for
them.

Import it from a CLI only: it defines the absl flag `--debug`.
"""

import functools
import os
import re
import shlex
import signal
import sys

from absl import flags, logging

DEBUG = flags.DEFINE_boolean(
    "debug", False, "Show the Python traceback of an error about the input "
    "(config, data, files) instead of its one-line message.")

# Errors that describe the user's input: a wrong config value, a bad COCO
# file, a missing folder, a full disk. Anything else is a bug and keeps its
# traceback.
USER_ERRORS = (ValueError, TypeError, OSError)


def one_line(error):
    """`error` as one line: its type and message, whitespace collapsed (and
    TensorFlow's `{{function_node ...}}` prefix dropped)."""
    message = re.sub(r"\{\{[^}]*\}\}\s*", "", str(error))
    return f"{type(error).__name__}: {' '.join(message.split())}"


def is_user_error(error):
    """An error about the input or the machine rather than a bug: the
    `USER_ERRORS` types, and TensorFlow's error for a full disk."""
    if isinstance(error, USER_ERRORS):
        return True
    tf = sys.modules.get("tensorflow")  # loaded by whatever raised it, if anything
    return bool(tf) and isinstance(error, tf.errors.ResourceExhaustedError) and (
        "No space left on device" in str(error))


# The exit status of a program stopped by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED_STATUS = 128 + signal.SIGINT


def command_line():
    """The command as the user typed it, quoted for a shell (`python
    train.py ...` from a checkout, `spinenet-train ...` installed)."""
    program = sys.argv[0]
    words = (["python", program] if program.endswith(".py")
             else [os.path.basename(program)])
    return shlex.join(words + sys.argv[1:])


def with_clear_errors(main=None, *, interrupted=None):
    """Wraps an absl `main`: a user-input error prints `error: ...` on one
    line to stderr and exits with status 2 (unless `--debug`); Ctrl-C
    prints `interrupted: ...` on one line and exits with status 130.
    `interrupted()` returns what that line says (what was left behind, how
    to resume). absl's default verbosity (INFO) is lowered to WARNING
    unless `--verbosity` is given. Use as `@with_clear_errors` or
    `@with_clear_errors(interrupted=...)`."""
    if main is None:
        return functools.partial(with_clear_errors, interrupted=interrupted)

    @functools.wraps(main)
    def wrapped(argv):
        if not flags.FLAGS["verbosity"].present:
            logging.set_verbosity(logging.WARNING)
        try:
            return main(argv)
        except KeyboardInterrupt:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C: let the line out
            if DEBUG.value:
                raise
            try:
                what = interrupted() if interrupted else "nothing was left half-written"
            except Exception as error:  # noqa: BLE001 - the line must still come out
                what = f"(could not say what was left: {one_line(error)})"
            print(f"\ninterrupted: {what}", file=sys.stderr, flush=True)
            sys.stdout.flush()
            # Not sys.exit: on TensorFlow 2.21 the interpreter's shutdown
            # after an interrupted step could wait for ever on TensorFlow's
            # threads (seen in CI, with the line already printed and a second
            # Ctrl-C ignored above). Everything left behind is settled by now.
            os._exit(INTERRUPTED_STATUS)
        except Exception as error:  # noqa: BLE001 - re-raised unless the user's
            if DEBUG.value or not is_user_error(error):
                raise
            print(f"error: {one_line(error)}\n(run with --debug for the traceback)",
                  file=sys.stderr)
            sys.exit(2)

    return wrapped
