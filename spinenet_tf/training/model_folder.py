"""A model with its weights as a model folder that the other commands take
(what `spinenet-pretrained convert` writes of a preset's model).

The folder has `train.py`'s layout: `model.keras` (architecture and
weights), `config.yaml` (an experiment whose `model:` section is the
preset's own, so the task rebuilds the same network through the same
construction path) and `checkpoints/ckpt-0`. So `export_saved_model.py
--model_dir <folder>` exports it and `model.init_from: <folder>`
fine-tunes it.
"""

import dataclasses
import os

from spinenet_tf import registry
from spinenet_tf.config import ExperimentConfig, config_yaml
from spinenet_tf.training import checkpoints
from spinenet_tf.utils.atomic_files import atomic_directory, save_keras_model, write_bytes


def preset_experiment(preset, image_size=None):
    """An experiment whose `model:` section builds `preset`'s network (at
    `image_size` if given) and whose `losses:` are its family's defaults."""
    model = preset.model
    if image_size:
        model = dataclasses.replace(model, image_size=[image_size, image_size])
    return ExperimentConfig(model=model,
                            losses=registry.get_family(preset.family).losses_class())


def write_model_folder(model, config, folder):
    """Writes `model` with its weights as a model folder whose config.yaml
    is `config` (an `ExperimentConfig` whose `model:` section builds the
    same network: `preset_experiment` for a preset's); the folder appears
    whole or not at all. Returns its path."""
    folder = os.path.abspath(folder)
    with atomic_directory(folder) as partial:
        save_keras_model(model, os.path.join(partial, checkpoints.MODEL_FILE))
        write_bytes(os.path.join(partial, checkpoints.CONFIG_FILE), config_yaml(config).encode())
        writer = checkpoints.CheckpointWriter(
            checkpoints.training_checkpoint(model),
            os.path.join(partial, checkpoints.CHECKPOINT_DIR), max_to_keep=1)
        writer.save(0)  # its state file names it relative to the folder
    return folder
