"""A converted checkpoint as a model folder that the other commands take.

The folder has `train.py`'s layout: `model.keras` (architecture and
weights), `config.yaml` (an experiment whose model section rebuilds the
same network: `flavor: tpu`, the entry's activation, batch norm and head)
and `checkpoints/ckpt-0`. So `export_saved_model.py --model_dir <folder>`
exports it and `model.init_from: <folder>` fine-tunes it.
"""

import os

import yaml

from spinenet_tf.pretrained.catalog import TPU_MODEL_ZOO


def model_config(entry, image_size):
    """The `model:` section of an experiment that builds `entry`'s network."""
    values = {
        "type": entry.family,
        "backbone": entry.variant,
        "image_size": [image_size, image_size],
        "num_classes": entry.num_classes,
        "activation": entry.activation,
        "norm_momentum": entry.norm_momentum,
        "norm_epsilon": entry.norm_epsilon,
        "flavor": "tpu" if entry.source == TPU_MODEL_ZOO else "model_garden",
    }
    if entry.endpoints_num_filters is not None:
        values["endpoints_num_filters"] = entry.endpoints_num_filters
    if entry.family in ("retinanet", "maskrcnn"):
        for key, value in (("head_num_filters", entry.head_num_filters),
                           ("head_num_convs", entry.head_num_convs),
                           ("anchor_size", entry.anchor_size)):
            if value is not None:
                values[key] = value
    if entry.family == "maskrcnn":
        values["num_scales"] = 1  # the recipe's one anchor scale
        # head_num_* set the box and mask heads; the RPN tower is its own.
        options = {}
        if entry.head_num_convs is not None:
            options["rpn_num_convs"] = entry.head_num_convs
        if not entry.rpn_norm_each_conv:
            options["rpn_norm_each_conv"] = False
        if options:
            values["maskrcnn_options"] = options
    elif entry.family == "classifier":
        values["aggregation"] = entry.aggregation
    return values


def write_model_folder(model, entry, folder):
    """Writes `model` (built for `entry`, weights loaded) as a model folder;
    the folder appears whole or not at all. Returns its path."""
    from spinenet_tf.atomic_files import atomic_directory, save_keras_model, write_bytes
    from spinenet_tf.config import config_from_dict, config_to_dict
    from spinenet_tf.training import checkpoints

    image_size = int(model.backbone.input.shape[1])
    config = config_from_dict({"model": model_config(entry, image_size)},
                              where=f"the model of {entry.name}")
    folder = os.path.abspath(folder)
    with atomic_directory(folder) as partial:
        save_keras_model(model, os.path.join(partial, checkpoints.MODEL_FILE))
        write_bytes(os.path.join(partial, checkpoints.CONFIG_FILE), yaml.safe_dump(
            config_to_dict(config), sort_keys=False).encode())
        writer = checkpoints.CheckpointWriter(
            checkpoints.training_checkpoint(model),
            os.path.join(partial, checkpoints.CHECKPOINT_DIR), max_to_keep=1)
        writer.save(0)  # its state file names it relative to the folder
    return folder
