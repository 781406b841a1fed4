"""Mask R-CNN's variable names in the TPU model zoo's TF1 files.

`rpn_head/` (the tower convs `rpn`, `rpn-1`, ..., the batch norms
`rpn-l{level}-bn`, `rpn-l{level}-bn-1`, ... per level, the predictors
`rpn-class` and `rpn-box`; the 2020 layout of the SpineNet-190 file: convs
`rpn_0`, `rpn_1`, ... and one `rpn-l{level}-bn`), `fast_rcnn_head/`
(`conv_{i}`, `fc6`, `fc7`, ..., `class-predict`, `box-predict`) and
`mask_head/` (`mask-conv-l{i}`, `conv5-mask`, `mask_fcn_logits`), each
head's batch norms numbered in order as `batch_normalization`,
`batch_normalization_1`, ...; every head conv has a bias. The backbone's
are `backbones.model_zoo_names`'.
"""

from spinenet_tf.backbones.model_zoo_names import spinenet_names
from spinenet_tf.utils.tf1_variable_names import (
    add_batch_norm_names,
    add_head_conv_names,
    add_numbered_batch_norms,
)


def rpn_head_names(head, names):
    """Names of an `RPNHead`'s variables (`rpn_head/...`)."""
    scope = "rpn_head"
    num_convs = len(head.convs)
    for i, conv in enumerate(head.convs):
        if head.norm_each_conv:
            layer = "rpn" if i == 0 else f"rpn-{i}"
        else:  # tensorflow/tpu before 40cf4c3 (February 2021)
            layer = "rpn" if num_convs == 1 else f"rpn_{i}"
        add_head_conv_names(names, f"{scope}/{layer}", conv)
    for level in head.levels:
        for i, norm in enumerate(head.norms[level]):
            add_batch_norm_names(names, f"{scope}/rpn-l{level[1:]}-bn" + (f"-{i}" if i else ""),
                                 norm)
    add_head_conv_names(names, f"{scope}/rpn-class", head.score_predictor)
    add_head_conv_names(names, f"{scope}/rpn-box", head.box_predictor)
    return names


def model_zoo_names(model):
    """`{model-zoo name: variable}` of a `MaskRCNN` (backbone and the three
    heads)."""
    names = spinenet_names(model.backbone)
    rpn_head_names(model.rpn_head, names)
    box = model.box_head
    for i, conv in enumerate(box.convs):
        add_head_conv_names(names, f"fast_rcnn_head/conv_{i}", conv)
    for i, fc in enumerate(box.fcs):
        add_head_conv_names(names, f"fast_rcnn_head/fc{i + 6}", fc)
    add_numbered_batch_norms(names, "fast_rcnn_head", box.conv_norms + box.fc_norms)
    add_head_conv_names(names, "fast_rcnn_head/class-predict", box.class_predictor)
    add_head_conv_names(names, "fast_rcnn_head/box-predict", box.box_predictor)
    mask = model.mask_head
    for i, conv in enumerate(mask.convs):
        add_head_conv_names(names, f"mask_head/mask-conv-l{i}", conv)
    add_head_conv_names(names, "mask_head/conv5-mask", mask.upsample)
    add_numbered_batch_norms(names, "mask_head", mask.conv_norms + [mask.upsample_norm])
    add_head_conv_names(names, "mask_head/mask_fcn_logits", mask.mask_predictor)
    return names
