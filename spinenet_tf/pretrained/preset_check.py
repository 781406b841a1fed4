"""Is this file the preset it is loaded as? Presets of one architecture
(the relu and the swish SpineNet-49 RetinaNet, say) have the same variables,
so a file loads into either without a word and gives wrong outputs under
the wrong one. What tells them apart is the training length recorded in
the file: its global step against each preset's `total_steps`."""

import dataclasses
import warnings

import tensorflow as tf

from spinenet_tf import registry

# Model settings that change no variable: presets differing only in these
# have the same variables (and are told apart by their training length).
TRAINING_ONLY = ("activation", "init_stochastic_depth_rate", "use_sync_bn")
# Where a checkpoint keeps its step: TF1 files, TF2 trainer files.
STEP_KEYS = ("global_step", "global_step/.ATTRIBUTES/VARIABLE_VALUE",
             "optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE")


class PresetFileError(ValueError):
    """The file is certainly another preset's."""


class PresetFileWarning(UserWarning):
    """The file may be another preset's (its training length is not this one's)."""


def global_step(prefix):
    """The training step a checkpoint records, or None."""
    reader = tf.train.load_checkpoint(prefix)
    names = reader.get_variable_to_shape_map()
    for key in STEP_KEYS:
        if key in names:
            return int(reader.get_tensor(key))
    return None


def same_variables(a, b):
    """Whether presets `a` and `b` have the same variables (same family and
    model section, training-only settings aside)."""
    def architecture(preset):
        values = dataclasses.asdict(preset.model)
        return {k: v for k, v in values.items() if k not in TRAINING_ONLY + ("image_size",)}

    return a.family == b.family and architecture(a) == architecture(b)


def check_preset_file(prefix, preset):
    """Compares the file's global step with `preset.total_steps`: another
    preset of the same variables trained for exactly that many steps is a
    `PresetFileError` naming it; any other mismatch a `PresetFileWarning`
    (also returned, as text); None when the step agrees or is unknown."""
    step = global_step(prefix)
    if step is None or preset.total_steps is None or step == preset.total_steps:
        return None
    twins = [other for other in registry.presets().values()
             if other is not preset and same_variables(other, preset)]
    matching = [other for other in twins if other.total_steps == step]
    if len(matching) == 1:
        other = matching[0]
        raise PresetFileError(
            f"{prefix} was trained for {step} steps: {other.name}'s training length "
            f"({other.recipe}), not {preset.name}'s ({preset.total_steps} steps, "
            f"{preset.recipe}). The two have the same variables, so the file would load "
            f"and compute the wrong thing: load it as {other.name}.")
    text = (f"{prefix} records {step} training steps, not {preset.name}'s "
            f"{preset.total_steps}: it may be an intermediate checkpoint or another preset's "
            "file")
    if twins:
        text += " (same variables: " + ", ".join(
            f"{other.name} {other.total_steps} steps" for other in twins) + ")"
    warnings.warn(text, PresetFileWarning, stacklevel=3)
    return text
