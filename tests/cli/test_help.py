"""`--help` of every installed console script (and of the checkout's
`train.py` / `export_saved_model.py`) lists that program's own flags with
their help, under its usage text, and not absl's or TensorFlow's."""

import ast
import importlib.metadata
import os
import re
import subprocess
import sys

import pytest
from support import ROOT

DEFINED = re.compile(r"flags\.DEFINE_\w+\(\s*\"(\w+)\"")


def console_scripts():
    """{script name: the module its entry point runs} of this package."""
    return {entry.name: entry.value.split(":")[0]
            for entry in importlib.metadata.entry_points(group="console_scripts")
            if entry.value.startswith("spinenet_tf.")}


def source_of(module):
    with open(os.path.join(ROOT, *module.split(".")) + ".py") as f:
        return f.read()


@pytest.mark.slow
def test_every_script_lists_its_own_flags():
    scripts = console_scripts()
    assert {"spinenet-train", "spinenet-export", "spinenet-demo",
            "spinenet-pretrained"} <= set(scripts)
    bin_dir = os.path.dirname(sys.executable)
    commands = {name: [os.path.join(bin_dir, name), "--help"] for name in scripts}
    commands["train.py"] = [sys.executable, "train.py", "--help"]
    commands["export_saved_model.py"] = [sys.executable, "export_saved_model.py", "--help"]
    modules = {**scripts, "train.py": "spinenet_tf.cli.train",
               "export_saved_model.py": "spinenet_tf.cli.export"}
    running = {name: subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
               for name, command in commands.items()}  # all at once: ~5 s of imports each
    for name, process in running.items():
        out, err = process.communicate(timeout=300)
        # absl ends --help with status 1, its convention.
        assert process.returncode in (0, 1) and "Traceback" not in err, (name, err[-2000:])
        module = modules[name]
        expected = DEFINED.findall(source_of(module)) + ["debug"]
        assert len(expected) > 1, module
        for flag in expected:
            assert re.search(rf"^\s+--(\[no\])?{flag}:", out, re.M), (name, flag, out)
        usage = ast.get_docstring(ast.parse(source_of(module))).splitlines()[0]
        assert out.startswith(usage), (name, out[:300])
        # Only the program's flags: none of absl's (--flagfile, --verbosity)
        # or TensorFlow's.
        listed = re.findall(r"^\s+--(?:\[no\])?(\w+):", out, re.M)
        source = source_of(module)
        assert [f for f in listed if f != "debug" and f'"{f}"' not in source] == [], name

