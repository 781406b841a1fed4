"""The papers' RetinaNet recipes per backbone variant (tf-models-official's
`retinanet_spinenet_coco` / `retinanet_mobile_coco` and their yaml files)."""

import dataclasses

from spinenet_tf.backbones.variants import Variant, get_variant


@dataclasses.dataclass(frozen=True)
class RetinaNetConfig:
    """Head and anchors of one named RetinaNet, with its reference figures.

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


def _config(name, convs, filters, separable, anchor_size, params, published,
            macs):
    return RetinaNetConfig(get_variant(name), convs, filters, separable,
                           anchor_size, params, published, macs)


RETINANET_CONFIGS = {
    c.variant.name: c
    for c in (
        _config("spinenet-49s", 4, 128, False, 3, 11_333_318, 11.9e6, 33.8e9),
        _config("spinenet-49", 4, 256, False, 3, 28_652_567, 28.5e6, 85.4e9),
        _config("spinenet-96", 4, 256, False, 3, 43_118_103, 43.0e6, 265.4e9),
        _config("spinenet-143", 4, 256, False, 4, 67_146_263, 67.0e6, 524.0e9),
        _config("spinenet-190", 7, 512, False, 4, 163_970_583, 163.6e6, 1885.0e9),
        _config("spinenet-mobile-49", 4, 48, True, 3, 2_386_603, 2.34e6, 1.0e9),
        _config("spinenet-mobile-49s", 4, 40, True, 3, 1_063_047, None, None),
        _config("spinenet-mobile-49xs", 4, 24, True, 3, 901_575, None, None),
    )
}


def get_retinanet_config(name):
    """Looks a RetinaNet recipe up by backbone variant name."""
    key = str(name).lower()
    if key not in RETINANET_CONFIGS:
        raise ValueError(
            f"No RetinaNet recipe for {name!r}; choose one of "
            f"{list(RETINANET_CONFIGS)}.")
    return RETINANET_CONFIGS[key]
