"""tf-models-official's (Model Garden's) twin of a SpineNet backbone, and
its weights copied into ours: the oracle of the parity tests, and the way
Model Garden checkpoints of architectures without a key table load.

Model Garden's SpineNet lives on tf_keras and names almost none of its
layers, so its checkpoints carry no names to map from. The import therefore
builds the Model Garden twin of a spinenet_tf backbone (same variant, same
block specs), restores the checkpoint into the twin, and copies every weight
across by structure:

* top-level convolutions and batch norms (stem, resampling, endpoints) are
  paired in creation order, which tf_keras records in its automatic layer
  names (`conv2d`, `conv2d_1`, ...) and which spinenet_tf follows by
  construction;
* blocks are paired in creation order per block type, then sublayer by
  sublayer with the tables below.

Every pair is shape-checked, and every weight of both models must be used,
so a wrong variant or a changed layout fails loudly instead of importing
half a model. Needs the `garden` extra (`pip install spinenet_tf[garden]`).
"""

import re

import keras
import numpy as np

from spinenet_tf.backbones.spinenet import SpineNet
from spinenet_tf.backbones.spinenet_mobile import SpineNetMobile
from spinenet_tf.compat.model_garden_internals import block_sublayers
from spinenet_tf.layers import (
    BottleneckBlock,
    CrossScaleResampling,
    DepthwiseResampling,
    MBConvBlock,
    ResidualBlock,
)
from spinenet_tf.utils.checkpoint_files import resolve_checkpoint_prefix

BLOCK_KINDS = ("bottleneck", "residual", "mbconv")
# Model Garden top-level layer class -> the kind it is paired as.
REFERENCE_KINDS = {
    "Conv2D": "conv",
    "DepthwiseConv2D": "depthwise",
    "BatchNormalization": "bn",
    "BottleneckBlock": "bottleneck",
    "ResidualBlock": "residual",
    "InvertedBottleneckBlock": "mbconv",
}


def require_model_garden():
    """Raises a clear ImportError without tf-models-official."""
    try:
        import tf_keras  # noqa: F401
        from official.vision.modeling.backbones import spinenet  # noqa: F401
    except ImportError as error:
        raise ImportError(
            "Importing Model Garden weights needs tf-models-official: "
            "`pip install 'spinenet_tf[garden]'`."
        ) from error


def build_model_garden_backbone(model, image_shape=None):
    """Builds the tf-models-official twin of a spinenet_tf backbone.

    The twin has the same variant, block specs, levels, activation and
    batch-norm settings, and the input size `model` was built for (or
    `image_shape`). Note that Model Garden wires a model built with `None`
    spatial dims differently (it skips the zero-outdegree merges), which also
    changes the keys of the checkpoints it writes.
    """
    require_model_garden()
    import tf_keras
    from official.vision.modeling.backbones import spinenet as tfm_spinenet
    from official.vision.modeling.backbones import spinenet_mobile as tfm_mobile

    height, width, channels = image_shape or model.image_shape
    common = dict(
        input_specs=tf_keras.layers.InputSpec(shape=[None, height, width, channels]),
        min_level=model.min_level,
        max_level=model.max_level,
        endpoints_num_filters=model.endpoints_num_filters,
        block_repeats=model.block_repeats,
        filter_size_scale=model.filter_size_scale,
        init_stochastic_depth_rate=model.init_stochastic_depth_rate,
        activation=model.norm_activation.activation,
        use_sync_bn=model.norm_activation.use_sync_bn,
        norm_momentum=model.norm_activation.norm_momentum,
        norm_epsilon=model.norm_activation.norm_epsilon,
    )
    specs = [spec.as_tuple() for spec in model.block_specs]
    if isinstance(model, SpineNet):
        return tfm_spinenet.SpineNet(
            block_specs=tfm_spinenet.build_block_specs(specs),
            resample_alpha=model.resample_alpha,
            **common,
        )
    if isinstance(model, SpineNetMobile):
        return tfm_mobile.SpineNetMobile(
            block_specs=tfm_mobile.build_block_specs(specs),
            se_ratio=model.se_ratio,
            expand_ratio=model.expand_ratio,
            **common,
        )
    raise TypeError(
        "Expected a spinenet_tf.SpineNet or SpineNetMobile; received "
        f"{type(model).__name__}."
    )


def _creation_index(layer):
    match = re.fullmatch(r"[a-z0-9_]*?(?:_(\d+))?", layer.name)
    return int(match.group(1) or 0) if match else -1


def _reference_units(reference):
    """Model Garden's weighted top-level layers, per kind, in creation order."""
    units = {}
    for layer in reference.layers:
        kind = REFERENCE_KINDS.get(type(layer).__name__)
        if kind is None:
            if layer.weights:
                raise ValueError(
                    f"Unexpected weighted layer {layer.name!r} "
                    f"({type(layer).__name__}) in the Model Garden model."
                )
            continue
        units.setdefault(kind, []).append(layer)
    return {k: sorted(v, key=_creation_index) for k, v in units.items()}


def _our_units(model):
    """spinenet_tf's weighted units, per kind, in Model Garden's order."""
    blocks = {BottleneckBlock: "bottleneck", ResidualBlock: "residual",
              MBConvBlock: "mbconv"}
    leaves = {keras.layers.Conv2D: "conv", keras.layers.DepthwiseConv2D:
              "depthwise", keras.layers.BatchNormalization: "bn"}
    units = {}

    def add(layer):
        for cls, kind in list(blocks.items()) + list(leaves.items()):
            if type(layer) is cls or (kind == "bn" and isinstance(layer, cls)):
                units.setdefault(kind, []).append(layer)
                return
        raise ValueError(f"No Model Garden counterpart for {layer.name!r}.")

    for layer in _in_reference_order(model):
        if isinstance(layer, CrossScaleResampling):
            for name in ("reduce_conv", "reduce_bn", "downsample_conv",
                         "downsample_bn", "project_conv", "project_bn"):
                if hasattr(layer, name):
                    add(getattr(layer, name))
        elif isinstance(layer, DepthwiseResampling):
            for depthwise, bn, _ in layer.downsample_layers:
                add(depthwise)
                add(bn)
            add(layer.project_conv)
            add(layer.project_bn)
        elif layer.weights:
            add(layer)
    return units


def _in_reference_order(model):
    """Top-level layers of `model` in the order Model Garden creates them."""
    names = ["stem_conv", "stem_bn"]
    block_fn = "mbconv" if isinstance(model, SpineNetMobile) else "bottleneck"
    for g in range(2):
        names += [f"stem{g + 1}_{block_fn}{r + 1}" for r in range(model.block_repeats)]
    for i, spec in enumerate(model.block_specs):
        names += [f"block{i + 1}_resample0", f"block{i + 1}_resample1"]
        names += [f"block{i + 1}_{spec.block_fn}{r + 1}"
                  for r in range(model.block_repeats)]
    for level in range(model.min_level, model.max_level + 1):
        names += [f"P{level}_conv", f"P{level}_bn"]
    present = {layer.name: layer for layer in model.layers}
    ordered = [present[n] for n in names if n in present]
    missing = [layer.name for layer in model.layers
               if layer.weights and layer not in ordered]
    if missing:
        raise ValueError(f"Layers outside the SpineNet layout: {missing}.")
    return ordered


def _attribute(layer, path):
    for part in path.split("."):
        layer = getattr(layer, part, None)
        if layer is None:
            return None
    return layer


def copy_layer_weights(source, target, where):
    """Copies a Model Garden layer's weights into ours, shapes checked."""
    values = source.get_weights()
    expected = [tuple(w.shape) for w in target.weights]
    received = [tuple(np.shape(v)) for v in values]
    if expected != received:
        raise ValueError(
            f"Shape mismatch at {where}: Model Garden {source.name!r} has "
            f"{received}, spinenet_tf {target.path!r} expects {expected}."
        )
    target.set_weights(values)


def copy_layer_pairs(pairs, theirs, ours, where):
    """Copies each (Model Garden layer, our layer) of `pairs`; every weight of
    both whole layers `theirs` and `ours` must have been covered."""
    copied = 0
    for source, target in pairs:
        copy_layer_weights(source, target, f"{where}.{target.name}")
        copied += len(target.weights)
    if copied != len(ours.weights) or copied != len(theirs.weights):
        raise ValueError(
            f"Copied {copied} {where} weights, but spinenet_tf's {ours.name!r} has "
            f"{len(ours.weights)} and Model Garden's {theirs.name!r} {len(theirs.weights)}.")


def transfer_model_garden_weights(reference, model):
    """Copies the weights of a Model Garden SpineNet(-Mobile) into `model`.

    `reference` must have the same architecture, as built by
    `build_model_garden_backbone(model)`. Raises if any weight of either
    model is left unpaired or any shape differs.
    """
    ours = _our_units(model)
    theirs = _reference_units(reference)
    if sorted(ours) != sorted(theirs) or any(
        len(ours[k]) != len(theirs[k]) for k in ours
    ):
        counts = lambda units: {k: len(v) for k, v in sorted(units.items())}
        raise ValueError(
            "The Model Garden model and the spinenet_tf model differ in "
            f"layout: Model Garden {counts(theirs)}, spinenet_tf {counts(ours)}."
        )
    copied = 0
    for kind, pairs in ours.items():
        for source, target in zip(theirs[kind], pairs):
            if kind in BLOCK_KINDS:
                for a, our_path in block_sublayers(source, kind):
                    b = _attribute(target, our_path)
                    if (a is None) != (b is None):
                        raise ValueError(
                            f"{source.name} vs {target.name}.{our_path}: present in "
                            "only one."
                        )
                    if a is not None:
                        copy_layer_weights(a, b, f"{target.name}.{our_path}")
                        copied += len(b.weights)
            else:
                copy_layer_weights(source, target, target.name)
                copied += len(target.weights)
    if copied != len(model.weights) or copied != len(reference.weights):
        raise ValueError(
            f"Copied {copied} weights, but spinenet_tf has {len(model.weights)} "
            f"and Model Garden {len(reference.weights)}."
        )
    return model


def load_model_garden_backbone_checkpoint(model, checkpoint_path):
    """Loads a Model Garden backbone checkpoint into a spinenet_tf backbone.

    The checkpoint is one written by `tf.train.Checkpoint(backbone=...)`
    (as Model Garden's training writes it), given by its prefix or by its
    directory (the latest one there, or the only one). `model` must be the same variant; build it with a fixed
    input size or `None` dims alike.

    Returns:
        `model`, with the imported weights.
    """
    require_model_garden()
    import tensorflow as tf

    path = resolve_checkpoint_prefix(checkpoint_path)
    # Model Garden trains with a fixed input size; a model it built with
    # `None` dims has other checkpoint keys (see build_model_garden_backbone).
    size = 2 ** max(spec.level for spec in model.block_specs)
    twin_shapes = [(size, size, model.image_shape[2]), (None, None, model.image_shape[2])]
    if None not in model.image_shape[:2]:
        twin_shapes[0] = model.image_shape
    errors = []
    for shape in twin_shapes:
        reference = build_model_garden_backbone(model, image_shape=shape)
        try:
            status = tf.train.Checkpoint(backbone=reference).read(path)
            status.assert_existing_objects_matched()
        except (AssertionError, ValueError) as error:
            errors.append(error)
            continue
        status.expect_partial()
        return transfer_model_garden_weights(reference, model)
    raise ValueError(
        f"Checkpoint {path!r} does not fit {model.name} (model_id "
        f"{model.model_id!r}): {errors[0]}")
