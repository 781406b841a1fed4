"""The papers' RetinaNet for each backbone variant (tf-models-official's
`retinanet_spinenet_coco` / `retinanet_mobile_coco` and their yaml files):
its head and anchor size, and the reference figures it is checked against."""

import dataclasses

from spinenet_tf.backbones.variants import Variant, get_variant
from spinenet_tf.utils.suggestions import did_you_mean


@dataclasses.dataclass(frozen=True)
class VariantSettings:
    """Head and anchors of the paper's RetinaNet on one variant, with its
    reference figures.

    Attributes:
        variant: the backbone variant (its paper input size is used).
        head_num_convs, head_num_filters, use_separable_conv: head.
        anchor_size: anchor side in strides.
        reference_params: RetinaNet parameters that tf-models-official 2.20
            builds (91 classes, 9 anchors; counted with the installed package).
        published_params: parameters as published (TFM 2.15 code).
        published_macs: multiply-adds as published, at the paper size.
    """

    variant: Variant
    head_num_convs: int
    head_num_filters: int
    use_separable_conv: bool
    anchor_size: float
    reference_params: int
    published_params: float
    published_macs: float


def _settings(name, convs, filters, separable, anchor_size, params, published, macs):
    return VariantSettings(get_variant(name), convs, filters, separable, anchor_size,
                           params, published, macs)


VARIANT_SETTINGS = {
    s.variant.name: s
    for s in (
        _settings("spinenet-49s", 4, 128, False, 3, 11_333_318, 11.9e6, 33.8e9),
        _settings("spinenet-49", 4, 256, False, 3, 28_652_567, 28.5e6, 85.4e9),
        _settings("spinenet-96", 4, 256, False, 3, 43_118_103, 43.0e6, 265.4e9),
        _settings("spinenet-143", 4, 256, False, 4, 67_146_263, 67.0e6, 524.0e9),
        _settings("spinenet-190", 7, 512, False, 4, 163_970_583, 163.6e6, 1885.0e9),
        _settings("spinenet-mobile-49", 4, 48, True, 3, 2_386_603, 2.34e6, 1.0e9),
        _settings("spinenet-mobile-49s", 4, 40, True, 3, 1_063_047, None, None),
        _settings("spinenet-mobile-49xs", 4, 24, True, 3, 901_575, None, None),
    )
}


def variant_settings(name):
    """The paper's RetinaNet settings for backbone variant `name`; an error
    with the closest names for a variant without one (SpineNet-143L)."""
    key = get_variant(name).name
    if key not in VARIANT_SETTINGS:
        raise ValueError(f"No paper RetinaNet for {name!r}{did_you_mean(key, VARIANT_SETTINGS)}; "
                         f"the variants with one are {list(VARIANT_SETTINGS)}.")
    return VARIANT_SETTINGS[key]
