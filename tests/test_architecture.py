"""The package's shape, checked from its source: module-level imports form
no cycle, no module imports another's private names, no model family
imports another, export does not depend on training, and importing the
package changes nothing outside it."""

import ast
import os
import subprocess
import sys

import spinenet_tf

PACKAGE = os.path.dirname(spinenet_tf.__file__)


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


def module_level_imports(tree, known):
    """(imported module, imported names) of the statements run on import."""
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [a.name for a in node.names]
            submodules = [f"{node.module}.{n}" for n in names if f"{node.module}.{n}" in known]
            yield node.module, [n for n in names if f"{node.module}.{n}" not in known]
            for submodule in submodules:
                yield submodule, []
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []


def imports_between_modules(known):
    """{module: modules of the package it imports, at any level}, package
    `__init__`s left out (they re-export; a cycle through one is not a
    dependency between two modules)."""
    packages = {m for m in known if any(other.startswith(m + ".") for other in known)}
    graph = {}
    for module, tree in known.items():
        if module in packages:
            continue
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets.add(node.module)
                targets.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
        graph[module] = {t for t in targets if t in known and t not in packages
                         and t != module}
    return graph


def test_modules_do_not_import_each_other_in_a_cycle():
    graph = imports_between_modules(modules())
    state, cycles = {}, []

    def visit(module, path):
        state[module] = "open"
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                cycles.append(path[path.index(imported):] + [imported])
            elif imported not in state:
                visit(imported, path + [imported])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles


def test_no_private_names_are_imported_across_modules():
    known = modules()
    private = [(m, i, n) for m, tree in known.items()
               for i, names in module_level_imports(tree, known)
               for n in names if i.startswith("spinenet_tf") and n.startswith("_")]
    for module, tree in known.items():  # function-level imports too
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "spinenet_tf"):
                private += [(module, node.module, a.name) for a in node.names
                            if a.name.startswith("_")]
    assert not private


def test_export_does_not_import_training():
    offenders = []
    for module, tree in modules().items():
        if not module.startswith("spinenet_tf.export"):
            continue
        for node in ast.walk(tree):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom) else
                     [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            offenders += [(module, n) for n in names
                          if n.startswith(("spinenet_tf.training", "spinenet_tf.tasks"))]
    assert not offenders


MODEL_FAMILIES = ("spinenet_tf.retinanet", "spinenet_tf.maskrcnn", "spinenet_tf.classifier")


def test_model_families_do_not_import_one_another():
    # What two families share (anchors, box ops, sampling) lives in ops/ or
    # layers/, so a family can change without reaching into another.
    offenders = []
    for module, tree in modules().items():
        family = next((f for f in MODEL_FAMILIES if module.startswith(f)), None)
        if family is None:
            continue
        for node in ast.walk(tree):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom) else
                     [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            offenders += [(module, n) for n in names
                          if n.startswith(MODEL_FAMILIES) and not n.startswith(family)]
    assert not offenders


def test_importing_the_package_leaves_the_environment_alone():
    # Keras and TensorFlow first: their own import edits (cv2 sets
    # LD_LIBRARY_PATH) are theirs; what changes after is this package's.
    script = ("import os, keras, tensorflow; before = dict(os.environ); "
              "import spinenet_tf, spinenet_tf.tasks, spinenet_tf.export, "
              "spinenet_tf.training.trainer; "
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
