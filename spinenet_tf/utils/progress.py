"""Progress output that suits where it goes: a live bar on a terminal, plain
lines in a file or a pipe.

Keras' `Progbar` (and so `fit(verbose=1)`) redraws itself with backspaces,
carriage returns and ANSI colours whenever the `posix` module is loaded,
which writes unreadable logs when stdout is redirected. These helpers pick
Keras' bar on a terminal and its one-line-per-epoch form (`verbose=2`)
otherwise.
"""

import sys

from keras.utils import Progbar


def on_terminal(stream=None):
    """Whether `stream` (default: stdout) is an interactive terminal."""
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def fit_verbosity(verbose=None):
    """The `verbose` for `Model.fit`: `verbose` when given, else 1 (a live
    bar) on a terminal and 2 (a line an epoch) otherwise."""
    if verbose is not None:
        return verbose
    return 1 if on_terminal() else 2


class ProgressBar:
    """A Keras `Progbar` on a terminal; otherwise a plain line every
    `every` items and at the end (`label` then `done/total`)."""

    def __init__(self, total, label, unit_name="image", every=None):
        self.total, self.label, self.unit_name = total, label, unit_name
        self.every = every or max(1, (total or 100) // 4)
        self.bar = Progbar(total, unit_name=unit_name) if on_terminal() else None
        self.done = self._printed = 0

    def add(self, count=1):
        self.done += count
        if self.bar is not None:
            self.bar.add(count)
        elif (self.done - self._printed >= self.every
              or (self.total and self.done >= self.total)):
            self._printed = self.done
            of = f"/{self.total}" if self.total else ""
            print(f"{self.label}: {self.done}{of} {self.unit_name}s", flush=True)
