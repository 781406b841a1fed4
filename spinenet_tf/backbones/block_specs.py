"""Block specifications: the scale-permuted architectures as data.

A block spec is `(level, block_fn, (input_offset0, input_offset1), is_output)`,
exactly the language of the SpineNet paper and of tf-models-official. The
offsets index the list of feature maps built so far: the stem's maps come
first (two of them), and spec `i` produces map `i + 2`.
"""

import dataclasses
from typing import Iterable, Sequence, Tuple, Union

NUM_STEM_MAPS = 2

# SpineNet (Du et al. 2020), as tf-models-official builds it. The last entry
# (the L2 output) exists in tf-models-official only; with min_level >= 3 it is
# not connected to any endpoint and adds no weights.
SPINENET_BLOCK_SPECS = (
    (2, "bottleneck", (0, 1), False),
    (4, "residual", (0, 1), False),
    (3, "bottleneck", (2, 3), False),
    (4, "bottleneck", (2, 4), False),
    (6, "residual", (3, 5), False),
    (4, "bottleneck", (3, 5), False),
    (5, "residual", (6, 7), False),
    (7, "residual", (6, 8), False),
    (5, "bottleneck", (8, 9), False),
    (5, "bottleneck", (8, 10), False),
    (4, "bottleneck", (5, 10), True),
    (3, "bottleneck", (4, 10), True),
    (5, "bottleneck", (7, 12), True),
    (7, "bottleneck", (5, 14), True),
    (6, "bottleneck", (12, 14), True),
    (2, "bottleneck", (2, 13), True),
)

# SpineNet as tensorflow/tpu's model zoo builds it: the fifteen blocks
# without tf-models-official's L2 output.
MODEL_ZOO_SPINENET_BLOCK_SPECS = SPINENET_BLOCK_SPECS[:15]

# SpineNet-Mobile (Du et al. 2020b): every block is an MBConv. Map 0 is the
# L1 stem block, map 1 the L2 stem block.
SPINENET_MOBILE_BLOCK_SPECS = tuple(
    (level, "mbconv", inputs, is_output) for level, inputs, is_output in (
        (2, (0, 1), False), (2, (1, 2), False), (4, (1, 2), False),
        (3, (3, 4), False), (4, (3, 5), False), (6, (4, 6), False),
        (4, (4, 6), False), (5, (7, 8), False), (7, (7, 9), False),
        (5, (9, 10), False), (5, (9, 11), False), (4, (6, 11), True),
        (3, (5, 11), True), (5, (8, 13), True), (7, (6, 15), True),
        (6, (13, 15), True),
    ))


def _scale_decreased(specs, count=15):
    """The first `count` blocks in ResNet order (by level, the residual
    block of each level first), each fed by the two maps before it, the last
    block of every level L3..L7 an output."""
    blocks = sorted(specs[:count], key=lambda spec: (spec[0], spec[1] != "residual"))
    last = {level: index for index, (level, *_) in enumerate(blocks)}
    return tuple((level, block_fn, (index, index + 1), level >= 3 and last[level] == index)
                 for index, (level, block_fn, _, _) in enumerate(blocks))


# The scale-decreased starting point of the paper, in the same language: the
# fifteen blocks of SpineNet-49 (same levels, same block types, so the same
# block compute) in ResNet-50 order -- resolution only ever decreases: levels
# 2, 3 3, 4R 4 4 4, 5R 5 5 5, 6R 6, 7R 7 -- each block fed by the two maps
# before it, and the last block of every level L3..L7 an output. Build it
# with `SpineNet("49", block_specs=...)` to compare scale-permuted and
# scale-decreased on equal footing.
SCALE_DECREASED_BLOCK_SPECS = _scale_decreased(SPINENET_BLOCK_SPECS)
# The same for SpineNet-Mobile's sixteen MBConv blocks.
SCALE_DECREASED_MOBILE_BLOCK_SPECS = _scale_decreased(SPINENET_MOBILE_BLOCK_SPECS, 16)

SPINENET_BLOCK_FNS = ("bottleneck", "residual")
MOBILE_BLOCK_FNS = ("mbconv",)


@dataclasses.dataclass(frozen=True)
class BlockSpec:
    """One block of a scale-permuted network.

    Attributes:
        level: feature level; the block's maps are 1/2**level of the input.
        block_fn: "bottleneck", "residual" (SpineNet) or "mbconv" (Mobile).
        input_offsets: indices of the two parent maps (earlier maps only).
        is_output: whether the block feeds the endpoint of its level.
    """

    level: int
    block_fn: str
    input_offsets: Tuple[int, int]
    is_output: bool

    def as_tuple(self):
        return (
            self.level,
            self.block_fn,
            tuple(self.input_offsets),
            self.is_output,
        )


BlockSpecLike = Union[BlockSpec, Sequence]


def _describe(index, entry):
    return f"block_specs[{index}] = {entry!r}"


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def validate_block_specs(
    block_specs: Iterable[BlockSpecLike],
    block_fns: Sequence[str],
    levels: Sequence[int],
    num_stem_maps: int = NUM_STEM_MAPS,
):
    """Checks a block-spec list and returns it as a tuple of `BlockSpec`s.

    Every entry must be `(level, block_fn, (offset0, offset1), is_output)`
    with a level in `levels`, a block type in `block_fns`, two offsets that
    point to maps built before this block, and at most one output per level.
    Errors name the offending entry and say what is allowed.
    """
    if isinstance(block_specs, (str, bytes)) or not hasattr(
        block_specs, "__iter__"
    ):
        raise TypeError(
            "`block_specs` must be a list of (level, block_fn, "
            f"(offset0, offset1), is_output) entries; received {block_specs!r}"
        )
    entries = list(block_specs)
    if not entries:
        raise ValueError("`block_specs` is empty; at least one block is needed.")
    allowed_levels = sorted(set(levels))
    validated = []
    output_levels = {}
    for index, entry in enumerate(entries):
        spec = _checked_entry(index, entry, block_fns, allowed_levels, num_stem_maps)
        if spec.is_output:
            if spec.level in output_levels:
                raise ValueError(
                    f"{_describe(index, entry)}: a second output block at level "
                    f"{spec.level}; block_specs[{output_levels[spec.level]}] is already the "
                    "output of that level (one output per level)."
                )
            output_levels[spec.level] = index
        validated.append(spec)
    return tuple(validated)


def _checked_entry(index, entry, block_fns, allowed_levels, num_stem_maps):
    """Entry `index` as a `BlockSpec`, or an error naming it and what is allowed."""
    where = _describe(index, entry)
    if isinstance(entry, BlockSpec):
        entry = entry.as_tuple()
    if isinstance(entry, (str, bytes)) or len(entry) != 4:
        raise ValueError(
            f"{where}: expected 4 fields (level, block_fn, "
            "(offset0, offset1), is_output)."
        )
    level, block_fn, offsets, is_output = entry
    if not _is_int(level) or level not in allowed_levels:
        raise ValueError(
            f"{where}: level {level!r} is not allowed; levels must be "
            f"integers in {allowed_levels}."
        )
    if block_fn not in block_fns:
        raise ValueError(
            f"{where}: unknown block type {block_fn!r}; known types are "
            f"{list(block_fns)}."
        )
    if isinstance(offsets, (str, bytes)) or len(offsets) != 2:
        raise ValueError(
            f"{where}: input offsets must be a pair of map indices; "
            f"received {offsets!r}."
        )
    available = num_stem_maps + index
    for offset in offsets:
        if not _is_int(offset) or not 0 <= offset < available:
            raise ValueError(
                f"{where}: input offset {offset!r} does not point to an "
                f"earlier map; this entry can use maps 0..{available - 1} "
                f"({num_stem_maps} stem maps, then one per earlier block)."
            )
    if not isinstance(is_output, bool):
        raise ValueError(
            f"{where}: is_output must be True or False; "
            f"received {is_output!r}."
        )
    return BlockSpec(level, block_fn, (offsets[0], offsets[1]), is_output)


def block_specs_to_config(block_specs):
    """JSON-friendly form of a block-spec list (for `get_config`)."""
    return [
        [spec.level, spec.block_fn, list(spec.input_offsets), spec.is_output]
        for spec in block_specs
    ]


def block_specs_from_config(config):
    """Inverse of `block_specs_to_config`; returns plain tuples."""
    return tuple(
        (level, block_fn, tuple(offsets), is_output)
        for level, block_fn, offsets, is_output in config
    )
