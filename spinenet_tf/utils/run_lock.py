"""One run per folder: a training run or a search holds an exclusive lock
on `<folder>/.run.lock` while it writes there.

The lock is the operating system's (`fcntl.flock`), so it ends with the
process however it ends, SIGKILL included. The file also says who holds it
(process id, host, command, start time): a second run into the folder stops
at once naming the first, and a run that finds the record of a process that
no longer holds the lock (it was killed) says it takes over.
"""

import datetime
import fcntl
import json
import os
import socket
import sys

LOCK_FILE = ".run.lock"


class FolderInUseError(OSError):
    """Another live process writes into the folder."""


def _describe(record):
    return (f"process {record.get('pid')} on {record.get('host')} ({record.get('command')}, "
            f"started {record.get('started')})")


class RunLock:
    """A context manager holding `folder`'s run lock (see the module
    docstring); `what` names this kind of run in others' messages."""

    def __init__(self, folder, what="run"):
        self.path = os.path.join(folder, LOCK_FILE)
        self.what = what
        self._file = None

    def acquire(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            record = _read(handle.read())
            handle.close()
            holder = (f"another {record.get('what', 'run')}: {_describe(record)}" if record
                      else "another process")
            raise FolderInUseError(
                f"{os.path.dirname(self.path)} is in use by {holder}. Wait for it to end or "
                "stop it, or give another folder.") from None
        handle.seek(0)
        previous = _read(handle.read())
        if previous and previous.get("pid") != os.getpid():
            print(f"Taking over {self.path}: it was left by the {previous.get('what', 'run')} "
                  f"of {_describe(previous)}, which no longer runs (killed?).", flush=True)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({
            "what": self.what, "pid": os.getpid(), "host": socket.gethostname(),
            "command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:])[:300],
            "started": datetime.datetime.now().isoformat(timespec="seconds")}))
        handle.flush()
        self._file = handle
        return self

    def release(self):
        """Empties the record (the run ended cleanly) and unlocks."""
        if self._file is None:
            return
        self._file.seek(0)
        self._file.truncate()
        self._file.flush()
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._file.close()
        self._file = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()


def _read(text):
    try:
        record = json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        return {"pid": "?", "host": "?", "command": text.strip()[:100], "started": "?"}
    return record if isinstance(record, dict) else None
