"""SpineNet backbones and their block-spec language."""

from spinenet_tf.backbones.block_specs import (
    MOBILE_BLOCK_FNS,
    SCALE_DECREASED_BLOCK_SPECS,
    SPINENET_BLOCK_FNS,
    SPINENET_BLOCK_SPECS,
    SPINENET_MOBILE_BLOCK_SPECS,
    BlockSpec,
    validate_block_specs,
)
from spinenet_tf.backbones.spinenet import SpineNet
from spinenet_tf.backbones.spinenet_mobile import SpineNetMobile

__all__ = ["BlockSpec", "MOBILE_BLOCK_FNS", "SCALE_DECREASED_BLOCK_SPECS", "SPINENET_BLOCK_FNS",
           "SPINENET_BLOCK_SPECS", "SPINENET_MOBILE_BLOCK_SPECS", "SpineNet", "SpineNetMobile",
           "validate_block_specs"]
