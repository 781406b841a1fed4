"""The endless, shuffled example stream that training reads."""


def endless_shuffled(dataset, buffer_size, seed, skip=0):
    """`(index, element)` pairs of `dataset` repeated forever and shuffled.

    The stream is a pure function of `seed`, whichever iterator reads it,
    so a run resumed with `skip` sees what an uninterrupted run saw:

    - shuffling comes after `repeat`, with a fixed seed and no per-iteration
      reshuffle. `shuffle(reshuffle_each_iteration=True).repeat()` draws each
      epoch's order from a seed generator shared by all iterators of the
      dataset; Keras' `fit` opens one iterator to build the model and
      another to train, and the first one's prefetching, running on in the
      background, then changes the second one's epoch order.
    - the index (position in the stream) lets augmentation use stateless
      random ops seeded per element.

    Epoch boundaries are blurred by `buffer_size` elements, as usual for
    shuffling after `repeat`. `skip` elements are read and dropped before
    decoding; from TFRecords that means re-reading the records.
    """
    if buffer_size < 1:
        raise ValueError(f"buffer_size must be >= 1; received {buffer_size}.")
    stream = dataset.repeat().shuffle(
        buffer_size, seed=seed, reshuffle_each_iteration=False).enumerate()
    return stream.skip(skip) if skip else stream
