"""The paper's search space over block-spec lists: sample and mutate.

SpineNet's search space (Du et al. 2020, Sec. 3.1) starts from a fixed
multiset of blocks and searches
  * scale permutations: the order of the intermediate blocks and, separately,
    the order of the output blocks ((N - 5)! 5! orderings);
  * cross-scale connections: two parents per block, from any earlier map
    (stem maps included);
  * block adjustments: each intermediate block may move its level by one of
    {-1, 0, 1, 2} and change its type.
With `stem_blocks=N` the first N blocks of the base list stay as they are
(the paper's R[N]-SP[M] family: N scale-decreased ResNet blocks, then M
scale-permuted ones). Everything returned here passes `validate_block_specs`.
"""

import random
from typing import Optional, Sequence

from spinenet_tf.backbones import block_specs as specs_lib

LEVEL_ADJUSTMENTS = (-1, 0, 1, 2)


def _as_rng(seed):
    return seed if isinstance(seed, random.Random) else random.Random(seed)


def _split(base):
    intermediate = [s for s in base if not s.is_output]
    outputs = [s for s in base if s.is_output]
    return intermediate, outputs


def _random_parents(rng, index, num_stem_maps):
    available = num_stem_maps + index
    if available < 2:
        return (0, 0)
    return tuple(sorted(rng.sample(range(available), 2)))


def sample_block_specs(
    seed=None,
    base_block_specs: Sequence = specs_lib.SPINENET_BLOCK_SPECS,
    block_fns: Sequence[str] = specs_lib.SPINENET_BLOCK_FNS,
    levels: Sequence[int] = (2, 3, 4, 5, 6, 7),
    adjust_blocks: bool = True,
    num_stem_maps: int = specs_lib.NUM_STEM_MAPS,
    stem_blocks: int = 0,
):
    """Samples one architecture from the search space around `base_block_specs`.

    Intermediate blocks are shuffled and placed first, output blocks are
    shuffled and placed last; every block gets two random parents among the
    maps before it. With `adjust_blocks`, each intermediate block's level
    moves by a random step of {-1, 0, 1, 2} (kept inside `levels`) and its
    type is drawn from `block_fns`. Output levels never change, so the
    endpoints stay one per level.

    Args:
        seed: an int, None, or a `random.Random` to draw from.
        base_block_specs: the block multiset to permute (default SpineNet).
        block_fns: block types a block may take.
        levels: levels an intermediate block may move to.
        adjust_blocks: whether to apply level/type adjustments.
        num_stem_maps: maps produced before the first block.
        stem_blocks: how many leading blocks of `base_block_specs` stay fixed.

    Returns:
        A validated tuple of `BlockSpec`.
    """
    rng = _as_rng(seed)
    base = specs_lib.validate_block_specs(
        base_block_specs, specs_lib.SPINENET_BLOCK_FNS + specs_lib.MOBILE_BLOCK_FNS,
        range(0, 10), num_stem_maps,
    )
    _check_stem_blocks(stem_blocks, base)
    fixed = [s.as_tuple() for s in base[:stem_blocks]]
    intermediate, outputs = _split(base[stem_blocks:])
    rng.shuffle(intermediate)
    rng.shuffle(outputs)
    allowed = sorted(set(levels))
    sampled = list(fixed)
    for index, spec in enumerate(intermediate + outputs, start=len(fixed)):
        level, block_fn = spec.level, spec.block_fn
        if adjust_blocks and not spec.is_output:
            choices = [level + d for d in LEVEL_ADJUSTMENTS if level + d in allowed]
            level = rng.choice(choices or [level])
            block_fn = rng.choice(list(block_fns))
        sampled.append(
            (level, block_fn, _random_parents(rng, index, num_stem_maps),
             spec.is_output)
        )
    return specs_lib.validate_block_specs(
        sampled, tuple(block_fns) + tuple(s[1] for s in fixed),
        allowed + [s.level for s in base], num_stem_maps
    )


def _check_stem_blocks(stem_blocks, block_specs):
    if (not isinstance(stem_blocks, int) or isinstance(stem_blocks, bool)
            or not 0 <= stem_blocks < len(block_specs)):
        raise ValueError(
            f"`stem_blocks` must be an integer in [0, {len(block_specs) - 1}] "
            f"(the list has {len(block_specs)} blocks); received {stem_blocks!r}.")


def mutate_block_specs(
    block_specs: Sequence,
    seed=None,
    block_fns: Sequence[str] = specs_lib.SPINENET_BLOCK_FNS,
    levels: Sequence[int] = (2, 3, 4, 5, 6, 7),
    num_stem_maps: int = specs_lib.NUM_STEM_MAPS,
    mutation: Optional[str] = None,
    stem_blocks: int = 0,
):
    """Returns a copy of `block_specs` with one random search-space move.

    Moves: "permute" swaps two intermediate (or two output) blocks, keeping
    their connections in place; "connection" rewires one parent of one
    block; "level" moves one intermediate block by one of {-1, 1, 2};
    "block_fn" changes one block's type. `mutation` forces a move; moves that
    cannot apply (e.g. a one-type space for "block_fn") are skipped in
    favour of another. The first `stem_blocks` blocks are never changed.
    """
    rng = _as_rng(seed)
    current = list(
        specs_lib.validate_block_specs(
            block_specs, tuple(block_fns) + specs_lib.SPINENET_BLOCK_FNS
            + specs_lib.MOBILE_BLOCK_FNS, range(0, 10), num_stem_maps
        )
    )
    _check_stem_blocks(stem_blocks, current)
    if mutation is not None and mutation not in MOVES:
        raise ValueError(f"`mutation` must be one of {list(MOVES)}; received {mutation!r}.")
    candidates = [mutation] if mutation else list(MOVES)
    space = dict(block_fns=block_fns, levels=sorted(set(levels)),
                 num_stem_maps=num_stem_maps, stem_blocks=stem_blocks,
                 intermediate=[i for i, s in enumerate(current)
                               if not s.is_output and i >= stem_blocks],
                 outputs=[i for i, s in enumerate(current) if s.is_output and i >= stem_blocks])
    for _ in range(100):
        move = rng.choice(candidates)
        mutated = MOVES[move](rng, [s.as_tuple() for s in current], space)
        if mutated is None:
            continue
        try:
            fixed_fns = tuple(spec[1] for spec in mutated[:stem_blocks])
            fixed_levels = [spec[0] for spec in mutated[:stem_blocks]]
            return specs_lib.validate_block_specs(
                mutated, tuple(block_fns) + fixed_fns, list(levels) + fixed_levels,
                num_stem_maps
            )
        except ValueError:
            continue
    raise ValueError(
        f"Could not find a valid {candidates} mutation of the given block specs "
        "in 100 tries; the search space around them may be empty."
    )


def _permute(rng, specs, space):
    """Swaps two intermediate (or two output) blocks, connections kept in place."""
    group = rng.choice([g for g in (space["intermediate"], space["outputs"]) if len(g) > 1]
                       or [[]])
    if len(group) < 2:
        return None
    a, b = rng.sample(group, 2)
    (la, fa, _, oa), (lb, fb, _, ob) = specs[a], specs[b]
    specs[a] = (lb, fb, specs[a][2], ob)
    specs[b] = (la, fa, specs[b][2], oa)
    return specs


def _rewire(rng, specs, space):
    """Rewires one parent of one searched block."""
    index = rng.choice(range(space["stem_blocks"], len(specs)))
    level, fn, offsets, out = specs[index]
    which = rng.randrange(2)
    options = [m for m in range(space["num_stem_maps"] + index) if m != offsets[which]]
    if not options:
        return None
    offsets = list(offsets)
    offsets[which] = rng.choice(options)
    specs[index] = (level, fn, tuple(offsets), out)
    return specs


def _move_level(rng, specs, space):
    """Moves one intermediate block by one of `LEVEL_ADJUSTMENTS`."""
    if not space["intermediate"]:
        return None
    index = rng.choice(space["intermediate"])
    level, fn, offsets, out = specs[index]
    choices = [level + d for d in LEVEL_ADJUSTMENTS if d and level + d in space["levels"]]
    if not choices:
        return None
    specs[index] = (rng.choice(choices), fn, offsets, out)
    return specs


def _change_block_fn(rng, specs, space):
    """Changes one searched block's type."""
    index = rng.choice(range(space["stem_blocks"], len(specs)))
    level, fn, offsets, out = specs[index]
    options = [f for f in space["block_fns"] if f != fn]
    if not options:
        return None
    specs[index] = (level, rng.choice(options), offsets, out)
    return specs


# The search space's moves, by name (`mutate_block_specs`).
MOVES = {"permute": _permute, "connection": _rewire, "level": _move_level,
         "block_fn": _change_block_fn}
