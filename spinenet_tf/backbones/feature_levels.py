"""The pyramid levels a detection backbone outputs."""


def backbone_levels(backbone):
    """The sorted levels of a backbone's {"P3": ..., "P7": ...} outputs, or an
    error saying what it outputs instead."""
    outputs = backbone.output
    if not isinstance(outputs, dict) or not all(
            str(k).startswith("P") and str(k)[1:].isdigit() for k in outputs):
        raise ValueError(
            "The backbone must output a dict {'P3': ..., 'P7': ...} of feature "
            f"maps; received outputs {outputs!r}.")
    return sorted(int(str(k)[1:]) for k in outputs)
