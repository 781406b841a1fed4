"""Regularized (aging) evolution and random search over block specs."""

import random

MODES = ("evolution", "random")


class BudgetError(ValueError):
    """No candidate within the MAC budget after the allowed number of tries."""


def trial_rng(seed, index):
    """The random stream of search trial `index`: the same on every rerun,
    so a resumed search proposes what the interrupted one would have."""
    return random.Random(f"spinenet-search-{seed}-{index}")


def propose(space, history, index, *, mode, population, sample_size, seed,
            complexity, within_budget, max_tries):
    """The next candidate: `{"spec", "parent", "gmacs", "params", "tries"}`.

    `history` holds the finished search trials in order. Aging evolution
    (Real et al. 2019): while fewer than `population` trials exist, sample
    at random; afterwards the population is the `population` most recent
    trials (the oldest ages out), `sample_size` of them are drawn, and the
    best by AP is mutated once (one search-space move). Random search
    always samples. `complexity(spec)` gives (GMACs, params); a candidate
    outside `within_budget(gmacs)` is rejected before any training and
    another is drawn, up to `max_tries`.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {list(MODES)}; received {mode!r}.")
    rng = trial_rng(seed, index)
    parent = None
    if mode == "evolution" and len(history) >= population:
        alive = history[-population:]
        contenders = rng.sample(alive, min(sample_size, len(alive)))
        parent = max(contenders, key=lambda trial: trial["AP"])
    closest = None
    for tries in range(1, max_tries + 1):
        spec = space.mutate(parent["spec"], rng) if parent else space.sample(rng)
        gmacs, params = complexity(spec)
        if within_budget(gmacs):
            return {"spec": [list(row[:2]) + [list(row[2]), row[3]] for row in spec],
                    "parent": parent["trial"] if parent else None,
                    "gmacs": gmacs, "params": params, "tries": tries}
        if closest is None or abs(gmacs - within_budget.target) < abs(
                closest - within_budget.target):
            closest = gmacs
    source = f"mutations of trial {parent['trial']}" if parent else "random samples"
    raise BudgetError(
        f"No candidate within the MAC budget {within_budget.describe()} after "
        f"{max_tries} {source} (closest: {closest:.3f} GMACs). Widen --gmacs_tolerance, "
        "move --target_gmacs toward the space's range, or raise --max_budget_tries.")


class MacBudget:
    """`target` GMACs +- `tolerance` (a fraction of the target)."""

    def __init__(self, target, tolerance):
        if target is not None and target <= 0:
            raise ValueError(f"--target_gmacs must be > 0; received {target}.")
        if tolerance <= 0:
            raise ValueError(f"--gmacs_tolerance must be > 0; received {tolerance}.")
        self.target, self.tolerance = target, tolerance

    def __call__(self, gmacs):
        return abs(gmacs - self.target) <= self.tolerance * self.target

    def describe(self):
        return f"{self.target:.3f} GMACs +- {100 * self.tolerance:.0f}%"
