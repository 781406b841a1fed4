"""The package's shape, checked from its source.

The package-level import graph is built from every import of every module
(module-level and inside functions, `__init__` re-exports included): it has
no cycle and no arrow up the layers (`LAYERS`, bottom to top); no module
outside a model family's folder imports the family or switches on it;
export does not depend on training; importing the package changes nothing
outside it; setup.cfg lists every package."""

import ast
import os
import re
import subprocess
import sys

import pytest

import spinenet_tf
from spinenet_tf import registry

PACKAGE = os.path.dirname(spinenet_tf.__file__)
ROOT_PACKAGE = "spinenet_tf"

# The layers, bottom to top: a package may import its own layer and those
# below. `models.*` are the family folders (and `models.base`, what they
# build on); `spinenet_tf` is the package's `__init__`, the public API.
LAYERS = (
    ("compat", "utils", "registry"),
    ("ops",),
    ("layers",),
    ("backbones",),
    ("config",),
    ("rcnn", "data", "evaluation", "pretrained"),
    ("models.base",),
    ("models.*",),
    ("models",),
    ("quantization",),
    ("export", "training"),
    ("search",),
    ("cli",),
    ("spinenet_tf",),
)


def modules():
    """{module name: parsed source} of every module of the package."""
    found = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                module = os.path.relpath(path, os.path.dirname(PACKAGE))[:-3].replace(
                    os.sep, ".").removesuffix(".__init__")
                with open(path) as f:
                    found[module] = ast.parse(f.read(), path)
    return found


def imported_modules(tree, known):
    """The package's modules a module imports, anywhere in it (`from x
    import y` imports the module x.y where there is one, else x's name y)."""
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                targets.add(submodule if submodule in known else node.module)
        elif isinstance(node, ast.Import):
            targets.update(a.name for a in node.names)
    return {t for t in targets if t in known}


def unit_of(module):
    """The package-level unit a module belongs to: `spinenet_tf` (the
    package's `__init__`), a top-level subpackage or module (`backbones`,
    `registry`), `models` (its `__init__`), `models.base`, or a family."""
    parts = module.split(".")[1:]
    if not parts:
        return ROOT_PACKAGE
    if parts[0] == "models" and len(parts) > 1:
        return f"models.{parts[1]}"
    return parts[0]


def layer_of(unit):
    for rank, names in enumerate(LAYERS):
        if unit in names or (unit.startswith("models.") and unit != "models.base"
                             and "models.*" in names):
            return rank
    raise AssertionError(f"{unit} is in no layer of LAYERS: add it where it belongs.")


def unit_graph(known=None):
    """{unit: {imported unit: [(module, imported module)]}}."""
    known = known or modules()
    graph = {}
    for module, tree in known.items():
        unit = unit_of(module)
        for target in imported_modules(tree, known):
            other = unit_of(target)
            if other != unit:
                graph.setdefault(unit, {}).setdefault(other, []).append((module, target))
    return graph


def cycles(graph):
    state, found = {}, []

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def upward_imports(graph):
    return sorted((unit, other, edges[0]) for unit, targets in graph.items()
                  for other, edges in targets.items() if layer_of(other) > layer_of(unit))


def test_every_unit_has_a_layer():
    for unit in {unit_of(m) for m in modules()}:
        layer_of(unit)


def test_units_do_not_import_each_other_in_a_cycle():
    assert cycles(unit_graph()) == []


def test_no_unit_imports_one_above_it():
    assert upward_imports(unit_graph()) == []


def test_the_checks_see_function_level_imports_and_reexports():
    """The graph would have caught the old layout's knot: a function-level
    import and an `__init__` re-export are edges like any other."""
    known = {
        "spinenet_tf.layers": ast.parse("from spinenet_tf.layers.conv import Conv"),
        "spinenet_tf.layers.conv": ast.parse(
            "def f():\n    from spinenet_tf.quantization.fake import Q\n"),
        "spinenet_tf.quantization": ast.parse("from spinenet_tf.quantization.fake import Q"),
        "spinenet_tf.quantization.fake": ast.parse("from spinenet_tf.layers import Conv"),
    }
    graph = unit_graph(known)
    assert cycles(graph) == [["layers", "quantization", "layers"]]
    assert [edge[:2] for edge in upward_imports(graph)] == [("layers", "quantization")]


def test_function_level_imports_of_the_package_are_few_and_say_why():
    lazy = []
    for module, tree in modules().items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith(
                            ROOT_PACKAGE):
                        lazy.append((module, inner.module))
    assert lazy == []


def family_units():
    return {f"models.{name}" for name in registry.families()}


def test_every_registered_family_is_a_folder_of_models():
    folders = {name for name in os.listdir(os.path.join(PACKAGE, "models"))
               if os.path.isfile(os.path.join(PACKAGE, "models", name, "__init__.py"))}
    assert folders - {"base"} == set(registry.families())


def test_only_the_registration_imports_a_family():
    """A family is imported by itself, by `models/__init__.py` (its
    registration line) and by the public API; by nothing else, families
    included."""
    offenders = []
    for unit, targets in unit_graph().items():
        for other, edges in targets.items():
            if other in family_units() and unit not in ("models", ROOT_PACKAGE):
                offenders += [(module, target) for module, target in edges]
    assert offenders == []


def switch_patterns(family):
    """What switching on `family` looks like in source: its name compared
    or matched as a string, or its model class tested with isinstance."""
    name = re.escape(family.name)
    model = re.escape(family.model_class.__name__)
    return [rf"==\s*[\"']{name}[\"']", rf"[\"']{name}[\"']\s*==", rf"in\s*\([^)]*[\"']{name}[\"']",
            rf"startswith\(\(?\s*[\"']{name}", rf"isinstance\([^)]*\b{model}\b"]


def test_nothing_outside_a_family_switches_on_it():
    found = []
    for folder, _, files in os.walk(PACKAGE):
        for file in files:
            if not file.endswith(".py"):
                continue
            path = os.path.join(folder, file)
            relative = os.path.relpath(path, PACKAGE)
            text = open(path).read()
            for name, family in registry.families().items():
                if relative.startswith(os.path.join("models", name) + os.sep):
                    continue
                found += [(relative, pattern) for pattern in switch_patterns(family)
                          if re.search(pattern, text)]
    assert found == []


def test_the_switch_check_finds_a_switch():
    family = registry.get_family("retinanet")
    assert any(re.search(p, 'if config.model.type == "retinanet":')
               for p in switch_patterns(family))
    assert any(re.search(p, "isinstance(model, RetinaNet)") for p in switch_patterns(family))


def test_no_private_names_are_imported_across_modules():
    private = []
    for module, tree in modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(ROOT_PACKAGE):
                private += [(module, node.module, a.name) for a in node.names
                            if a.name.startswith("_")]
    assert private == []


def test_export_does_not_import_training():
    assert [edge for edge in unit_graph().get("export", {}) if edge == "training"] == []


def test_importing_the_package_leaves_the_environment_alone():
    # Keras and TensorFlow first: their own import edits (cv2 sets
    # LD_LIBRARY_PATH) are theirs; what changes after is this package's.
    script = ("import os, keras, tensorflow; before = dict(os.environ); "
              "import spinenet_tf, spinenet_tf.export, spinenet_tf.training.trainer; "
              "print(sorted(set(os.environ.items()) ^ set(before.items())))")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True,
                            text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_setup_cfg_lists_every_package():
    """setup.cfg lists the packages (configs/ is mapped in): a folder it
    misses is absent from the wheel, and importing it fails when installed."""
    import configparser

    parser = configparser.ConfigParser()
    parser.read(os.path.join(os.path.dirname(PACKAGE), "setup.cfg"))
    listed = set(parser["options"]["packages"].split())
    found = {os.path.relpath(folder, os.path.dirname(PACKAGE)).replace(os.sep, ".")
             for folder, _, files in os.walk(PACKAGE) if "__init__.py" in files}
    assert found - listed == set()
    assert listed - found == {"spinenet_tf.configs"}


@pytest.mark.parametrize("file", ["package_data"])
def test_package_data_files_are_listed(file):
    """Data files the package reads (key tables) ship in the wheel."""
    import configparser

    parser = configparser.ConfigParser()
    parser.read(os.path.join(os.path.dirname(PACKAGE), "setup.cfg"))
    listed = parser["options.package_data"]
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".json.gz"):
                package = os.path.relpath(folder, os.path.dirname(PACKAGE)).replace(os.sep, ".")
                assert package in listed and "*.json.gz" in listed[package], (package, name)
