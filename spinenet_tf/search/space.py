"""The two scale-permuted search spaces: SpineNet's and SpineNet-Mobile's."""

import dataclasses
from typing import Tuple

import yaml

from spinenet_tf.backbones import block_specs as specs_lib
from spinenet_tf.search.block_spec_moves import mutate_block_specs, sample_block_specs

SPACES = ("spinenet", "mobile")


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """Where candidates come from (Du et al. 2020, Sec. 3.1).

    The blocks of `base` (the scale-decreased network by default) are
    permuted, each takes two inputs from earlier maps, and each
    intermediate block may move its level by one of {-1, 0, +1, +2} and
    change its type among `block_fns`. The first `stem_blocks` blocks stay
    fixed (the paper's R[N]-SP[M] family). `backbone` is the variant whose
    stem and scaling candidates are built with.
    """

    name: str
    backbone: str
    base: Tuple
    block_fns: Tuple[str, ...]
    stem_blocks: int = 0
    levels: Tuple[int, ...] = (2, 3, 4, 5, 6, 7)

    @classmethod
    def named(cls, name, stem_blocks=0, base=None):
        """"spinenet" (bottleneck and residual blocks, SpineNet-49's
        multiset) or "mobile" (MBConv blocks, SpineNet-Mobile's), around
        `base` (default: that multiset scale-decreased)."""
        if name == "spinenet":
            space = cls("spinenet", "spinenet-49", specs_lib.SCALE_DECREASED_BLOCK_SPECS,
                        specs_lib.SPINENET_BLOCK_FNS, stem_blocks)
        elif name == "mobile":
            space = cls("mobile", "spinenet-mobile-49",
                        specs_lib.SCALE_DECREASED_MOBILE_BLOCK_SPECS,
                        specs_lib.MOBILE_BLOCK_FNS, stem_blocks)
        else:
            raise ValueError(f"Search space must be one of {list(SPACES)}; received {name!r}.")
        if base is not None:
            space = dataclasses.replace(space, base=space.validate(base))
        # Fails early on a stem longer than the list.
        sample_block_specs(0, space.base, space.block_fns, space.levels,
                           stem_blocks=stem_blocks)
        return space

    def validate(self, block_specs):
        """`block_specs` as validated tuples of this space's block types."""
        return tuple(spec.as_tuple() for spec in specs_lib.validate_block_specs(
            block_specs, self.block_fns, self.levels))

    def sample(self, rng):
        return _plain(sample_block_specs(rng, self.base, self.block_fns, self.levels,
                                         stem_blocks=self.stem_blocks))

    def mutate(self, block_specs, rng):
        return _plain(mutate_block_specs(block_specs, rng, self.block_fns, self.levels,
                                         stem_blocks=self.stem_blocks))

    def references(self):
        """{name: block specs} trained beside the search: the scale-decreased
        network and the paper's scale-permuted one, same block multiset."""
        paper = (specs_lib.SPINENET_BLOCK_SPECS[:15] if self.name == "spinenet"
                 else specs_lib.SPINENET_MOBILE_BLOCK_SPECS)
        return {"scale_decreased": self.validate(self.base),
                "spinenet_49" if self.name == "spinenet" else "spinenet_mobile_49":
                    self.validate(paper)}


def _plain(block_specs):
    return tuple(spec.as_tuple() for spec in block_specs)


def block_specs_to_yaml(block_specs):
    """Flow-style rows `[level, block_fn, [offset0, offset1], is_output]`."""
    rows = [f"  - [{level}, {block_fn}, [{a}, {b}], {str(is_output).lower()}]"
            for level, block_fn, (a, b), is_output in block_specs]
    return "\n".join(rows)


def load_block_specs(path, space=None):
    """Block specs from a YAML file: a list of `[level, block_fn, [offset0,
    offset1], is_output]` rows, or a train config holding them under
    `model.block_specs`. Validated (against `space`'s block types if given);
    errors name the file, the block and the rule it breaks."""
    try:
        with open(path) as f:
            values = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"Cannot read block specs from {path}: {error}") from error
    if isinstance(values, dict):
        values = (values.get("model") or {}).get("block_specs")
    if values is None:
        raise ValueError(f"{path} holds no block specs: expected a list of rows or "
                         "`model: {block_specs: [...]}`.")
    try:
        if space is not None:
            return space.validate(values)
        return _plain(specs_lib.validate_block_specs(
            values, specs_lib.SPINENET_BLOCK_FNS + specs_lib.MOBILE_BLOCK_FNS,
            range(0, 10)))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: {error}") from error
