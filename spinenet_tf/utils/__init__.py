"""What every part of the package may use: atomic files, progress bars,
the machine's CPU flags, quiet native logs, variables by path, model
complexity and the checkpoint errors. Imports nothing else of the package
but `compat`."""
