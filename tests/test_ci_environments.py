"""CI runs the suite in two environments (README's test command): the
tests marked `reference` (they need tf-models-official or MediaPipe, the
oracles, on TensorFlow 2.20) in the first, every other test on TensorFlow
2.21, the version a fresh `pip install` gets; the few marked
`every_version` (version-sensitive internals) in both. A test that
needs an oracle without the mark would be skipped in both: these checks
find it."""

import ast
import glob
import os

from support import ROOT, readme_commands
ORACLES = ("official", "mediapipe")


def _needs_an_oracle(node):
    """Whether the code under `node` imports an oracle or asks
    `pytest.importorskip` for one."""
    for child in ast.walk(node):
        if isinstance(child, ast.Import):
            names = [alias.name for alias in child.names]
        elif isinstance(child, ast.ImportFrom):
            names = [child.module or ""]
        elif (isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute)
              and child.func.attr == "importorskip" and child.args
              and isinstance(child.args[0], ast.Constant)):
            names = [child.args[0].value]
        else:
            continue
        if any(name.split(".")[0] in ORACLES for name in names):
            return True
    return False


def _marked_reference(decorators):
    return any("reference" in ast.unparse(d) for d in decorators)


def unmarked_oracle_tests(path):
    """`path:name` of each test (or of the module) that needs an oracle
    and is not marked `reference`."""
    tree = ast.parse(open(path).read())
    body = tree.body
    module_marked = any(isinstance(s, ast.Assign) and any(
        getattr(t, "id", None) == "pytestmark" for t in s.targets)
        and "reference" in ast.unparse(s.value) for s in body)
    if module_marked:
        return []
    module_level = [s for s in body if not isinstance(s, (ast.FunctionDef, ast.ClassDef))]
    if any(_needs_an_oracle(s) for s in module_level):
        return [f"{path}:<module>"]
    return [f"{path}:{s.name}" for s in body
            if isinstance(s, ast.FunctionDef) and s.name.startswith("test_")
            and _needs_an_oracle(s) and not _marked_reference(s.decorator_list)]


def test_every_test_that_needs_an_oracle_is_marked_reference():
    paths = glob.glob(os.path.join(ROOT, "tests", "**", "test_*.py"), recursive=True)
    assert len(paths) > 50
    assert [name for path in sorted(paths) for name in unmarked_oracle_tests(path)] == []


def test_the_check_finds_an_unmarked_oracle_test(tmp_path):
    planted = tmp_path / "test_planted.py"
    planted.write_text(
        "import pytest\n\n"
        "def test_marked_elsewhere():\n    pass\n\n"
        "@pytest.mark.reference\ndef test_marked():\n    pytest.importorskip('official')\n\n"
        "def test_unmarked():\n    from official.vision.ops import preprocess_ops\n")
    assert unmarked_oracle_tests(str(planted)) == [f"{planted}:test_unmarked"]
    planted.write_text("import pytest\npytest.importorskip('mediapipe')\n\n"
                       "def test_any():\n    pass\n")
    assert unmarked_oracle_tests(str(planted)) == [f"{planted}:<module>"]


def test_the_two_environments_split_the_suite_by_the_mark():
    """TensorFlow 2.20 runs the `reference` tests (and the few checks of
    version-sensitive internals, `every_version`), TensorFlow 2.21 every
    test but the `reference` ones: none is left out."""
    command = readme_commands()[1]
    runs = [part for part in command.split("&&") if "-m pytest" in part]
    assert len(runs) == 2, runs
    first, second = runs
    assert first.lstrip().startswith(".venv/bin/python")
    assert '-m "reference or every_version"' in first
    assert second.lstrip().startswith(".venv-tf2.21/bin/python")
    assert '-m "not reference"' in second
    assert "tensorflow==2.21.0" in command.split(".venv-tf2.21/bin/pip install")[1]
    # The 2.21 environment installs in the background: its large packages
    # while the 2.20 environment installs, this package only after that
    # install (two editable installs of one checkout at once would write
    # its .egg-info folder together), the rest during the 2.20 run; its
    # tests start only once every install has ended well.
    packages = command.index(".venv-tf2.21/bin/pip install")
    first_install = command.index(".venv/bin/pip install")
    last_install = command.rindex(".venv/bin/pip install")
    this_package = command.index('.venv-tf2.21/bin/pip install -q -e ".[test-core]"')
    assert packages < first_install < last_install < command.index("wait $!") < this_package
    assert this_package < command.index(first) < command.rindex("wait $!") < command.index(second)
