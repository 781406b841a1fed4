"""How every console script starts: absl's `--help` lists the flags of the
module that defines the program (not only those of `__main__`, which for
an installed script is pip's two-line wrapper) under that module's
docstring; what the imports made is set aside from garbage collection."""

import gc
import importlib
import sys

from absl import app, flags

from spinenet_tf.cli import errors


def show_flags_in_help(module_name):
    """Makes `module_name`'s flags (and `--debug`) the key flags of the
    running program, so `--help` lists them with their help and defaults;
    the module's docstring becomes the usage text."""
    program = sys.argv[0]
    for name in (module_name, errors.__name__):
        for flag in flags.FLAGS.get_key_flags_for_module(name):
            flags.FLAGS.register_key_flag_for_module(program, flag)
    main_module = importlib.import_module("__main__")
    module = importlib.import_module(module_name)
    if main_module is not module:
        main_module.__doc__ = module.__doc__


def run_program(main, module_name):
    """`app.run(main)` with `module_name`'s flags in `--help`.

    The program's modules (their imports leave some 390,000 objects) stay
    loaded until it ends, so they are frozen out of the garbage
    collector's full passes, which would otherwise walk them again each time
    tracing a model has made enough new objects: about 1 CPU-second of a
    short training run's 35."""
    show_flags_in_help(module_name)
    gc.freeze()
    app.run(main)
