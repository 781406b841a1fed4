"""Block specs as data: validation, the scale-decreased list, the search space."""

import pytest

from spinenet_tf import SpineNet
from spinenet_tf.backbones import block_specs as specs_lib
from spinenet_tf.search.block_spec_moves import mutate_block_specs, sample_block_specs

FNS = specs_lib.SPINENET_BLOCK_FNS
LEVELS = range(1, 8)


def _validate(specs):
    return specs_lib.validate_block_specs(specs, FNS, LEVELS)


def test_paper_specs_are_valid():
    assert len(_validate(specs_lib.SPINENET_BLOCK_SPECS)) == 16
    mobile = specs_lib.validate_block_specs(
        specs_lib.SPINENET_MOBILE_BLOCK_SPECS, ("mbconv",), LEVELS)
    assert [s.level for s in mobile if s.is_output] == [4, 3, 5, 7, 6]


@pytest.mark.parametrize("bad,message", [
    ([(3, "bottleneck", (0, 2), True)], r"block_specs\[0\].*offset 2 .*maps 0..1"),
    ([(2, "bottleneck", (0, 1), False), (3, "conv", (0, 1), True)],
     r"block_specs\[1\].*unknown block type 'conv'"),
    ([(9, "residual", (0, 1), True)], r"block_specs\[0\].*level 9"),
    ([(3, "residual", (0, 1), True), (3, "residual", (1, 2), True)],
     r"block_specs\[1\].*second output block at level 3.*block_specs\[0\]"),
    ([(3, "residual", (0,), True)], r"block_specs\[0\].*pair"),
    ([(3, "residual", (0, -1), True)], r"block_specs\[0\].*offset -1"),
    ([(3, "residual", (0, 1))], r"block_specs\[0\].*4 fields"),
    ([(3, "residual", (0, 1), "yes")], r"block_specs\[0\].*is_output"),
    ([], "empty"),
])
def test_invalid_specs_name_the_offending_entry(bad, message):
    with pytest.raises(ValueError, match=message):
        _validate(bad)


def test_scale_decreased_specs_use_spinenet49_blocks_in_resnet_order():
    decreased = _validate(specs_lib.SCALE_DECREASED_BLOCK_SPECS)
    permuted = _validate(specs_lib.SPINENET_BLOCK_SPECS)[:15]  # no L2 output
    key = lambda s: (s.level, s.block_fn)
    # Same blocks (levels and types), so the same block compute...
    assert sorted(map(key, decreased)) == sorted(map(key, permuted))
    # ...but resolution never increases, and every block follows its predecessor.
    levels = [s.level for s in decreased]
    assert levels == sorted(levels)
    for i, spec in enumerate(decreased):
        assert spec.input_offsets == (i, i + 1)
    assert [s.level for s in decreased if s.is_output] == [3, 4, 5, 6, 7]


def test_scale_decreased_model_builds_with_all_endpoints():
    model = SpineNet("49S", input_shape=(128, 128, 3),
                     block_specs=specs_lib.SCALE_DECREASED_BLOCK_SPECS)
    assert {k: v.shape[1] for k, v in model.output.items()} == {
        "P3": 16, "P4": 8, "P5": 4, "P6": 2, "P7": 1}


@pytest.mark.parametrize("seed", range(20))
def test_sampled_specs_are_valid_permutations(seed):
    sampled = sample_block_specs(seed)
    base = _validate(specs_lib.SPINENET_BLOCK_SPECS)
    outputs = [s for s in sampled if s.is_output]
    # Output blocks are permuted among themselves and placed last.
    assert sorted(s.level for s in outputs) == sorted(s.level for s in base if s.is_output)
    assert all(s.is_output for s in sampled[-len(outputs):])
    for i, spec in enumerate(sampled):
        assert all(0 <= o < 2 + i for o in spec.input_offsets)
        assert spec.input_offsets[0] != spec.input_offsets[1]
    intermediate = [s for s in sampled if not s.is_output]
    assert len(intermediate) == len([s for s in base if not s.is_output])
    assert all(2 <= s.level <= 7 for s in intermediate)


def test_sampling_without_adjustment_only_permutes_and_rewires():
    base = _validate(specs_lib.SPINENET_BLOCK_SPECS)
    for seed in range(10):
        sampled = sample_block_specs(seed, adjust_blocks=False)
        key = lambda s: (s.level, s.block_fn, s.is_output)
        assert sorted(map(key, sampled)) == sorted(map(key, base))


def test_sampling_is_deterministic_per_seed():
    assert sample_block_specs(5) == sample_block_specs(5)
    assert sample_block_specs(5) != sample_block_specs(6)


def test_sampled_architecture_builds():
    specs = sample_block_specs(11)
    model = SpineNet("49S", input_shape=(128, 128, 3), block_specs=specs)
    assert set(model.output) == {"P3", "P4", "P5", "P6", "P7"}


@pytest.mark.parametrize("mutation", ["permute", "connection", "level", "block_fn"])
def test_each_mutation_changes_one_thing_and_stays_valid(mutation):
    base = _validate(specs_lib.SPINENET_BLOCK_SPECS)
    for seed in range(10):
        mutated = mutate_block_specs(base, seed=seed, mutation=mutation)
        changed = [i for i, (a, b) in enumerate(zip(base, mutated)) if a != b]
        assert 1 <= len(changed) <= 2
        if mutation == "level":
            (i,) = changed
            assert not base[i].is_output
            assert mutated[i].level - base[i].level in (-1, 1, 2)
        if mutation == "block_fn":
            (i,) = changed
            assert mutated[i].block_fn != base[i].block_fn
        if mutation == "permute":
            assert sorted(s.as_tuple()[:2] for s in mutated) == sorted(
                s.as_tuple()[:2] for s in base)


def test_unknown_mutation_is_rejected():
    with pytest.raises(ValueError, match="received 'grow'"):
        mutate_block_specs(specs_lib.SPINENET_BLOCK_SPECS, mutation="grow")
