"""`trials.jsonl`: the search's append-only record, from which it resumes."""

import json
import os

# A search folder's record of its trials, one JSON line each.
TRIALS_FILE = "trials.jsonl"


class TrialLog:
    """One JSON object per finished trial, appended and flushed to disk
    before the next trial starts, so a search killed at any moment (even
    by SIGKILL) loses at most the trial it was training; that trial's own
    checkpoints let it resume mid-training. A last line cut off by the kill
    is ignored (and overwritten by the next append)."""

    def __init__(self, path):
        self.path = path
        self.trials = []
        if os.path.exists(path):
            with open(path) as f:
                lines = f.read().split("\n")
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    self.trials.append(json.loads(line))
                except json.JSONDecodeError as error:
                    if number < len(lines) - 1 or line.endswith("}"):
                        raise ValueError(
                            f"{path}, line {number}: not a trial record ({error}); "
                            "the file is written only by the search.") from error
                    self._truncate_to_complete_lines()  # a write cut off by a kill

    def _truncate_to_complete_lines(self):
        with open(self.path, "rb+") as f:
            data = f.read()
            f.truncate(data.rfind(b"\n") + 1)

    def append(self, record):
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.trials.append(record)

    def of_kind(self, kind):
        return [t for t in self.trials if t["kind"] == kind]

    def find(self, kind, name):
        return next((t for t in self.trials if t["kind"] == kind and t["name"] == name), None)
