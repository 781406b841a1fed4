"""The experiment recipes (YAML). In a checkout they sit here, at the top;
installed, they are the package `spinenet_tf.configs` (setup.cfg), which
`spinenet_tf.config.config_path` reads."""
