"""What SpineNet and SpineNet-Mobile share: wiring a block-spec list.

Both backbones are "a stem, then blocks that each fuse two resampled parents,
then one endpoint per level"; they differ only in how a parent is resampled
and which block is built. This module holds the shared wiring and the input
checks, so the two builders contain only what differs.
"""

import math

import keras


def resolve_scaling(model_id, scaling_map, family, overrides):
    """Scaling parameters of `model_id`, with any non-None override applied."""
    model_id = str(model_id)
    if model_id not in scaling_map:
        raise ValueError(
            f"Unknown {family} model_id {model_id!r}; known ids are "
            f"{list(scaling_map)}."
        )
    params = dict(scaling_map[model_id])
    params.update({k: v for k, v in overrides.items() if v is not None})
    return params


def check_input_shape(input_shape, divisor, family):
    """Validates `(height, width, 3)`; spatial dims must divide by `divisor`."""
    if input_shape is None or len(input_shape) != 3:
        raise ValueError(
            f"{family} expects `input_shape` = (height, width, channels); "
            f"received {input_shape!r}."
        )
    height, width, _ = input_shape
    for name, size in (("height", height), ("width", width)):
        if size is None:
            continue
        if not isinstance(size, int) or size <= 0 or size % divisor:
            raise ValueError(
                f"{family}: input {name} must be a positive multiple of "
                f"{divisor} (2**{int(math.log2(divisor))}, the coarsest block "
                f"level), or None; received input_shape={tuple(input_shape)}."
            )
    return tuple(input_shape)


def check_levels(min_level, max_level, block_specs, family):
    """min..max must each have an output block in `block_specs`."""
    output_levels = sorted(s.level for s in block_specs if s.is_output)
    if not (isinstance(min_level, int) and isinstance(max_level, int)) or (
        min_level > max_level
    ):
        raise ValueError(
            f"{family}: need integers min_level <= max_level; received "
            f"min_level={min_level!r}, max_level={max_level!r}."
        )
    missing = [l for l in range(min_level, max_level + 1) if l not in output_levels]
    if missing:
        raise ValueError(
            f"{family}: levels {missing} of min_level..max_level = "
            f"{min_level}..{max_level} have no output block; the block specs "
            f"have outputs at levels {output_levels}."
        )


def build_scale_permuted_network(
    stem_maps,
    stem_levels,
    block_specs,
    resample,
    block_group,
    activation,
    dtype=None,
):
    """Wires the blocks of `block_specs` on top of the stem's maps.

    For every spec, both parents are resampled to the target (`resample`),
    summed -- together with, for an output block, every earlier map that has
    no outgoing connection yet and the same level and width (as the
    reference does) -- activated, and fed to `block_group`.

    The zero-outdegree rule is decided from levels and widths, not from
    static spatial shapes, so a model built for `None` spatial dims has the
    same graph as one built for a fixed size (the reference silently drops
    those merges when the size is unknown).

    Args:
        stem_maps: the stem's feature maps (Keras tensors).
        stem_levels: their levels.
        block_specs: validated `BlockSpec`s.
        resample: `fn(tensor, parent_index, parent_level, spec, block_index,
            input_index) -> tensor` at the target level and width.
        block_group: `fn(tensor, spec, block_index) -> tensor`.
        activation: activation applied after the fusion sum.
        dtype: dtype policy for the fusion layers.

    Returns:
        `{level: tensor}` of the output blocks.
    """
    maps = list(stem_maps)
    levels = list(stem_levels)
    outgoing = [0] * len(maps)
    outputs = {}
    for index, spec in enumerate(block_specs):
        parents = []
        for input_index, parent in enumerate(spec.input_offsets):
            parents.append(
                resample(maps[parent], parent, levels[parent], spec, index,
                         input_index)
            )
            outgoing[parent] += 1
        if spec.is_output:
            width = parents[0].shape[-1]
            for j, feature in enumerate(maps):
                if (outgoing[j] == 0 and levels[j] == spec.level
                        and feature.shape[-1] == width):
                    parents.append(feature)
                    outgoing[j] += 1
        prefix = f"block{index + 1}"
        x = keras.layers.Add(dtype=dtype, name=f"{prefix}_fusion")(parents)
        x = keras.layers.Activation(
            activation, dtype=dtype, name=f"{prefix}_fusion_activation"
        )(x)
        x = block_group(x, spec, index)
        maps.append(x)
        levels.append(spec.level)
        outgoing.append(0)
        if spec.is_output:
            outputs[spec.level] = x
    return outputs


def build_endpoints(features, min_level, max_level, num_filters, factory):
    """1x1 conv -> BN -> act per level; returns `{"P3": ..., ...}`."""
    endpoints = {}
    for level in range(min_level, max_level + 1):
        x = factory.conv(num_filters, 1, 1, f"P{level}_conv")(features[level])
        x = factory.batch_norm(f"P{level}_bn")(x)
        endpoints[f"P{level}"] = factory.activation_layer(f"P{level}_activation")(x)
    return endpoints


def stochastic_depth_rate(init_rate, block_index, num_blocks):
    """Linear decay rule of the reference: init * (i + 1) / N."""
    if not 0.0 <= init_rate < 1.0:
        raise ValueError(
            "`init_stochastic_depth_rate` must be in [0, 1); "
            f"received {init_rate!r}."
        )
    return init_rate * (block_index + 1) / num_blocks
