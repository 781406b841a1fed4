"""What a head reads of the backbone under it: the pyramid levels it
outputs and its norm / activation settings."""

from spinenet_tf.backbones.scale_permuted_backbone import ScalePermutedBackbone
from spinenet_tf.layers.norm_activation import NormActivation


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


def backbone_norm_activation(backbone):
    """The `NormActivation` a head under `backbone` follows: a SpineNet's own
    (`ScalePermutedBackbone.norm_activation`); for any other Keras backbone,
    relu and Keras' batch-norm defaults (a model takes an explicit
    `activation` for its heads)."""
    if isinstance(backbone, ScalePermutedBackbone):
        return backbone.norm_activation
    return NormActivation()
