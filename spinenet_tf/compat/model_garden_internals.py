"""The private attributes of tf-models-official's layers that the weight
transfer between its models and ours reads.

Model Garden keeps a head's convolutions, batch norms and predictors in
private lists (`_convs`, `_norms`, `_classifier`, ...) and a block's layers
in private attributes (`_conv1`, `_norm1`, ...); no public API lists them.
Each function names what it reads and checks the installed
tf-models-official against the versions it was tested with
(`versions.TESTED`), raising `InternalChanged` otherwise.
"""

from spinenet_tf.compat.versions import private_attribute, require

DISTRIBUTION = "tf-models-official"

# (Model Garden attribute path, spinenet_tf attribute path) per block type.
BLOCK_SUBLAYERS = {
    "bottleneck": [
        ("_shortcut", "shortcut_conv"), ("_norm0", "shortcut_bn"),
        ("_conv1", "conv1"), ("_norm1", "bn1"),
        ("_conv2", "conv2"), ("_norm2", "bn2"),
        ("_conv3", "conv3"), ("_norm3", "bn3"),
    ],
    "residual": [
        ("_shortcut", "shortcut_conv"), ("_norm0", "shortcut_bn"),
        ("_conv1", "conv1"), ("_norm1", "bn1"),
        ("_conv2", "conv2"), ("_norm2", "bn2"),
    ],
    "mbconv": [
        ("_conv0", "expand_conv"), ("_norm0", "expand_bn"),
        ("_conv1", "depthwise"), ("_norm1", "depthwise_bn"),
        ("_squeeze_excitation._se_reduce", "squeeze_excitation.reduce_conv"),
        ("_squeeze_excitation._se_expand", "squeeze_excitation.expand_conv"),
        ("_conv2", "project_conv"), ("_norm2", "project_bn"),
    ],
}


def _read(owner, path, where):
    """The attribute at dotted `path` of `owner`, checked; None where a part
    is absent and the layer has no such sublayer (a block without a
    projection shortcut)."""
    require(DISTRIBUTION, f"{where}.{path}")
    for part in path.split("."):
        owner = getattr(owner, part, None)
        if owner is None:
            return None
    return owner


def block_sublayers(block, block_fn):
    """[(Model Garden sublayer or None, our attribute path)] of a Model
    Garden `BottleneckBlock`, `ResidualBlock` or `InvertedBottleneckBlock`."""
    return [(_read(block, theirs, f"official {type(block).__name__}"), ours)
            for theirs, ours in BLOCK_SUBLAYERS[block_fn]]


def _attribute(layer, name):
    return private_attribute(layer, name, DISTRIBUTION,
                             f"official.vision {type(layer).__name__}.{name}")


def retinanet_head_layers(head):
    """Model Garden `RetinaNetHead`: {"class_convs", "class_norms" (a list
    per level), "box_convs", "box_norms", "class_predictor", "box_predictor"}."""
    return {"class_convs": _attribute(head, "_cls_convs"),
            "class_norms": _attribute(head, "_cls_norms"),
            "box_convs": _attribute(head, "_box_convs"),
            "box_norms": _attribute(head, "_box_norms"),
            "class_predictor": _attribute(head, "_classifier"),
            "box_predictor": _attribute(head, "_box_regressor")}


def rpn_head_layers(head):
    """Model Garden `RPNHead`: {"convs", "norms" (a list per level),
    "score_predictor", "box_predictor"}."""
    return {"convs": _attribute(head, "_convs"), "norms": _attribute(head, "_norms"),
            "score_predictor": _attribute(head, "_classifier"),
            "box_predictor": _attribute(head, "_box_regressor")}


def detection_head_layers(head):
    """Model Garden `DetectionHead`: {"convs", "conv_norms", "fcs",
    "fc_norms", "class_predictor", "box_predictor"}."""
    return {"convs": _attribute(head, "_convs"), "conv_norms": _attribute(head, "_conv_norms"),
            "fcs": _attribute(head, "_fcs"), "fc_norms": _attribute(head, "_fc_norms"),
            "class_predictor": _attribute(head, "_classifier"),
            "box_predictor": _attribute(head, "_box_regressor")}


def mask_head_layers(head):
    """Model Garden `MaskHead`: {"convs", "conv_norms", "upsample",
    "upsample_norm", "mask_predictor"}."""
    return {"convs": _attribute(head, "_convs"), "conv_norms": _attribute(head, "_conv_norms"),
            "upsample": _attribute(head, "_deconv"),
            "upsample_norm": _attribute(head, "_deconv_bn"),
            "mask_predictor": _attribute(head, "_mask_regressor")}
