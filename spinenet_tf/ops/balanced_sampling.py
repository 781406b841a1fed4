"""Random balanced sampling of positive and negative examples, as
tf-models-official's `BalancedPositiveNegativeSampler` draws them for the
RPN's anchors (a subset) and the ROI sampler's proposals (a fixed count).

Each example gets a uniform random priority; the highest-priority
positives (up to the positive quota) and negatives (the rest) are taken.
That is a uniform random subset of each kind, as the reference's shuffles
give; the random numbers themselves differ.
"""

from keras import ops, random


def _top_by_priority(members, priority, count, max_count):
    """The `count` (a scalar <= max_count) members of highest priority."""
    ranked = ops.where(members, priority, -1.0)
    k = min(max_count, ranked.shape[-1])
    top = ops.top_k(ranked, k=k)[0]  # sorted descending
    kth = ops.take_along_axis(
        top, ops.expand_dims(ops.clip(count - 1, 0, k - 1), -1), axis=-1)
    return ops.logical_and(ops.logical_and(members, ranked >= kth),
                           ops.expand_dims(count > 0, -1))


def sample_balanced(positive, negative, num_samples, positive_fraction, seed=None):
    """At most `num_samples` examples per row, at most
    int(num_samples * positive_fraction) of them positive, the rest
    negative (the RPN's rule: fewer when too few examples).

    Args:
        positive, negative: [B, N] disjoint booleans (neither: never sampled).
        num_samples: examples per row at most.
        positive_fraction: the positives' share of `num_samples` at most.
        seed: a `keras.random.SeedGenerator` or an int.

    Returns:
        [B, N] booleans: the sampled examples.
    """
    priority = random.uniform(ops.shape(positive), seed=seed)
    quota = int(num_samples * positive_fraction)
    positives = ops.minimum(ops.sum(ops.cast(positive, "int32"), axis=-1), quota)
    sampled_positive = _top_by_priority(positive, priority, positives, quota)
    negatives = num_samples - ops.sum(ops.cast(sampled_positive, "int32"), axis=-1)
    sampled_negative = _top_by_priority(negative, priority, negatives, num_samples)
    return ops.logical_or(sampled_positive, sampled_negative)


def sample_balanced_indices(positive, negative, num_samples, positive_fraction, seed=None):
    """Exactly `num_samples` indices per row (the ROI sampler's rule).

    Up to int(num_samples * positive_fraction) positives, the rest from the
    negatives; when positives and negatives together are fewer than
    `num_samples`, the first other examples (in index order) count as
    negatives. The sampled indices come in increasing order; if still
    fewer than `num_samples` were sampled, unsampled indices follow in
    increasing order (the reference's `top_k` fill).

    Args:
        positive, negative: [B, N] disjoint booleans, N >= num_samples.
        num_samples, positive_fraction, seed: as `sample_balanced`.

    Returns:
        [B, num_samples] int32 indices.
    """
    num_rows = positive.shape[-1]
    if num_rows is None:
        raise ValueError("sample_balanced_indices needs a static number of examples per row; "
                         f"received shape {tuple(positive.shape)}.")
    if num_rows < num_samples:
        raise ValueError(f"Cannot sample {num_samples} of {num_rows} examples per image.")
    candidates = ops.logical_or(positive, negative)
    missing = num_samples - ops.sum(ops.cast(candidates, "int32"), axis=-1, keepdims=True)
    others = ops.logical_not(candidates)
    filler = ops.logical_and(others, ops.cumsum(ops.cast(others, "int32"), axis=-1) <= missing)
    sampled = sample_balanced(positive, ops.logical_or(negative, filler), num_samples,
                              positive_fraction, seed)
    # Sampled first, each group in index order.
    index = ops.arange(num_rows, dtype="int32")
    order = ops.where(sampled, 2 * num_rows - index, num_rows - index)
    return ops.cast(ops.top_k(order, k=num_samples)[1], "int32")
