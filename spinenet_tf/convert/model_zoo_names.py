"""The TPU model zoo's variable names for this project's layers.

tensorflow/tpu's TF1 code (`models/official/detection/modeling/
architecture`) builds SpineNet with `tf.compat.v1.layers`, which number
their variables by creation order within each variable scope:
`conv2d`, `conv2d_1`, ... and `batch_normalization`, `batch_normalization_1`,
... Our layers create their convs and batch norms in the same order (a
projection shortcut before the main path), so the names follow from walking
our model scope by scope:

* `spinenet/`: the stem conv and its batch norm, the two level-2 stem block
  groups, then (after all blocks) the 1x1 endpoint convs of levels
  min..max (SpineNet-Mobile: `spinenet_mbconv/`, its two MBConv stem
  blocks; depthwise convs are numbered apart as `depthwise_conv2d`, the
  squeeze-excitation's two biased convs as `conv2d`);
* `spinenet/sub_policy{i}/resample_with_alpha_resample_{i}_{j}/`: the
  connection from parent `j` of block `i` (Mobile: `resample_with_sepconv`);
* `spinenet/sub_policy{i}/scale_permuted_block_{i + 2}/`: block `i`'s group;
* `retinanet/class_net/` and `retinanet/box_net/`: `class-{k}` (the conv
  shared by the levels), `class-{k}-{level}` (its batch norm at `level`),
  `class-predict`; likewise `box-...`;
* `classification_head/dense`: the classifier's logits (the released
  classifiers have no conv before it: `endpoints_num_filters: 0`);
* Mask R-CNN: `rpn_head/` (the tower convs `rpn`, `rpn-1`, ..., the batch
  norms `rpn-l{level}-bn`, `rpn-l{level}-bn-1`, ... per level, the
  predictors `rpn-class` and `rpn-box`; the 2020 layout of the SpineNet-190
  file: convs `rpn_0`, `rpn_1`, ... and one `rpn-l{level}-bn`),
  `fast_rcnn_head/` (`conv_{i}`, `fc6`, `fc7`, ..., `class-predict`,
  `box-predict`) and `mask_head/` (`mask-conv-l{i}`, `conv5-mask`,
  `mask_fcn_logits`), each head's batch norms numbered in order as
  `batch_normalization`, `batch_normalization_1`, ...; every head conv has a
  bias.

Every function returns `{tpu variable name: keras variable}`.
"""

import keras

BATCH_NORM_WEIGHTS = ("gamma", "beta", "moving_mean", "moving_variance")


class _Scope:
    """Numbers `conv2d` / `batch_normalization` / `dense` as one TF1
    variable scope does."""

    def __init__(self, name, names):
        self.name = name
        self.names = names
        self.counts = {}

    def _layer(self, kind):
        index = self.counts.get(kind, 0)
        self.counts[kind] = index + 1
        return f"{self.name}/{kind}" + (f"_{index}" if index else "")

    def add_conv(self, conv):
        """A conv followed by a batch norm: a kernel, no bias."""
        if conv.bias is not None:
            raise ValueError(
                f"{conv.path} has a bias; the model zoo's backbone convs have "
                "none. Load checkpoints into the trainable form (form="
                "'trainable'), then fold it.")
        if isinstance(conv, keras.layers.DepthwiseConv2D):
            self.names[f"{self._layer('depthwise_conv2d')}/depthwise_kernel"] = (
                conv.kernel)
        else:
            self.names[f"{self._layer('conv2d')}/kernel"] = conv.kernel

    def add_biased_conv(self, conv):
        """A conv with its own bias (squeeze-excitation)."""
        layer = self._layer("conv2d")
        self.names[f"{layer}/kernel"] = conv.kernel
        self.names[f"{layer}/bias"] = conv.bias

    def add_batch_norm(self, norm):
        layer = self._layer("batch_normalization")
        for weight, variable in zip(BATCH_NORM_WEIGHTS, _batch_norm_variables(norm)):
            self.names[f"{layer}/{weight}"] = variable

    def add_pairs(self, layer):
        """The (conv, batch norm) pairs of a `ConvNormLayer`, in order; an
        MBConv block's squeeze-excitation convs come after its depthwise
        conv's batch norm, where the TPU code creates them."""
        excitation = getattr(layer, "squeeze_excitation", None)
        for conv, norm, _ in layer.batch_norm_pairs():
            self.add_conv(conv)
            self.add_batch_norm(norm)
            if excitation is not None and conv is getattr(layer, "depthwise", None):
                self.add_biased_conv(excitation.reduce_conv)
                self.add_biased_conv(excitation.expand_conv)

    def add_dense(self, dense):
        layer = self._layer("dense")
        self.names[f"{layer}/kernel"] = dense.kernel
        self.names[f"{layer}/bias"] = dense.bias


def _batch_norm_variables(norm):
    return (norm.gamma, norm.beta, norm.moving_mean, norm.moving_variance)


def spinenet_names(backbone, names=None):
    """Names of a `SpineNet` or `SpineNetMobile` backbone's variables in a
    model-zoo file (`spinenet/...` or `spinenet_mbconv/...`)."""
    from spinenet_tf.backbones.spinenet import NUM_STEM_BLOCK_GROUPS, SpineNet
    from spinenet_tf.backbones.spinenet_mobile import STEM_LEVELS, SpineNetMobile

    if isinstance(backbone, SpineNet):
        root, resample, stem_block, groups = (
            "spinenet", "resample_with_alpha", "bottleneck", NUM_STEM_BLOCK_GROUPS)
    elif isinstance(backbone, SpineNetMobile):
        root, resample, stem_block, groups = (
            "spinenet_mbconv", "resample_with_sepconv", "mbconv", len(STEM_LEVELS))
    else:
        raise TypeError(
            "The model zoo's names apply to a SpineNet or SpineNet-Mobile "
            f"backbone; received {type(backbone).__name__} {backbone.name!r}.")
    names = {} if names is None else names
    top = _Scope(root, names)
    own_pairs = backbone.factory.folding_pairs()
    stem_conv, stem_norm, _ = own_pairs[0]
    top.add_conv(stem_conv)
    top.add_batch_norm(stem_norm)
    repeats = backbone.scaling["block_repeats"]
    for group in range(groups):
        for repeat in range(repeats):
            top.add_pairs(backbone.get_layer(f"stem{group + 1}_{stem_block}{repeat + 1}"))
    built = {layer.name for layer in backbone.layers}
    for i, spec in enumerate(backbone.block_specs):
        if f"block{i + 1}_resample0" not in built:
            continue  # feeds no endpoint, so not in the model (nor its weights)
        policy = f"{root}/sub_policy{i}"
        for j in range(2):
            _Scope(f"{policy}/{resample}_resample_{i}_{j}", names).add_pairs(
                backbone.get_layer(f"block{i + 1}_resample{j}"))
        block_scope = _Scope(f"{policy}/scale_permuted_block_{i + 2}", names)
        for repeat in range(repeats):
            block_scope.add_pairs(
                backbone.get_layer(f"block{i + 1}_{spec.block_fn}{repeat + 1}"))
    for conv, norm, _ in own_pairs[1:]:
        top.add_conv(conv)
        top.add_batch_norm(norm)
    return names


def _head_conv_names(names, layer_name, conv):
    """A head conv (or dense layer) with its bias: `kernel`, or
    `depthwise_kernel` and `pointwise_kernel` for a separable one."""
    if hasattr(conv, "depthwise_kernel"):
        names[f"{layer_name}/depthwise_kernel"] = conv.depthwise_kernel
        names[f"{layer_name}/pointwise_kernel"] = conv.pointwise_kernel
    else:
        names[f"{layer_name}/kernel"] = conv.kernel
    names[f"{layer_name}/bias"] = conv.bias


def retinanet_head_names(head, names=None):
    """Names of a `RetinaNetHead`'s variables in a model-zoo file."""
    if head.form.folds_batch_norm:
        raise ValueError(
            "Load model-zoo checkpoints into the trainable form of the "
            f"RetinaNet head (its form is {head.form.name!r}), then fold it.")
    names = {} if names is None else names
    for prefix in ("class", "box"):
        scope = f"retinanet/{prefix}_net"
        for k, conv in enumerate(getattr(head, f"{prefix}_convs")):
            _head_conv_names(names, f"{scope}/{prefix}-{k}", conv)
        for level in head.levels:
            for k, norm in enumerate(getattr(head, f"{prefix}_norms")[level]):
                _norm_names(names, f"{scope}/{prefix}-{k}-{level[1:]}", norm)
        predictor = head.class_predictor if prefix == "class" else head.box_predictor
        _head_conv_names(names, f"{scope}/{prefix}-predict", predictor)
    return names


def retinanet_names(model):
    """Names of a `RetinaNet`'s variables (backbone and head)."""
    names = spinenet_names(model.backbone)
    return retinanet_head_names(model.head, names)


def classifier_names(model):
    """Names of a `SpineNetClassifier`'s variables (backbone and head).

    The model zoo's head (`classification_head/`) has no batch norm before
    pooling and one `dense` layer; `aggregation` adds no variables.
    """
    if model.add_head_batch_norm:
        raise ValueError(
            "The model zoo's classification head has no batch norm before "
            "pooling; build the classifier with add_head_batch_norm=False.")
    names = spinenet_names(model.backbone)
    _Scope("classification_head", names).add_dense(model.get_layer("logits"))
    return names


def _norm_names(names, layer_name, norm):
    for weight, variable in zip(BATCH_NORM_WEIGHTS, _batch_norm_variables(norm)):
        names[f"{layer_name}/{weight}"] = variable


def rpn_head_names(head, names):
    """Names of a Mask R-CNN `RPNHead`'s variables (`rpn_head/...`)."""
    scope = "rpn_head"
    num_convs = len(head.convs)
    for i, conv in enumerate(head.convs):
        if head.norm_each_conv:
            layer = "rpn" if i == 0 else f"rpn-{i}"
        else:  # tensorflow/tpu before 40cf4c3 (February 2021)
            layer = "rpn" if num_convs == 1 else f"rpn_{i}"
        _head_conv_names(names, f"{scope}/{layer}", conv)
    for level in head.levels:
        for i, norm in enumerate(head.norms[level]):
            _norm_names(names, f"{scope}/rpn-l{level[1:]}-bn" + (f"-{i}" if i else ""),
                        norm)
    _head_conv_names(names, f"{scope}/rpn-class", head.score_predictor)
    _head_conv_names(names, f"{scope}/rpn-box", head.box_predictor)
    return names


def _numbered_norms(scope, names, norms):
    numbered = _Scope(scope, names)
    for norm in norms:
        numbered.add_batch_norm(norm)


def maskrcnn_names(model):
    """Names of a `MaskRCNN`'s variables (backbone and the three heads) in a
    model-zoo file."""
    names = spinenet_names(model.backbone)
    rpn_head_names(model.rpn_head, names)
    box = model.box_head
    for i, conv in enumerate(box.convs):
        _head_conv_names(names, f"fast_rcnn_head/conv_{i}", conv)
    for i, fc in enumerate(box.fcs):
        _head_conv_names(names, f"fast_rcnn_head/fc{i + 6}", fc)
    _numbered_norms("fast_rcnn_head", names, box.conv_norms + box.fc_norms)
    _head_conv_names(names, "fast_rcnn_head/class-predict", box.class_predictor)
    _head_conv_names(names, "fast_rcnn_head/box-predict", box.box_predictor)
    mask = model.mask_head
    for i, conv in enumerate(mask.convs):
        _head_conv_names(names, f"mask_head/mask-conv-l{i}", conv)
    _head_conv_names(names, "mask_head/conv5-mask", mask.upsample)
    _numbered_norms("mask_head", names, mask.conv_norms + [mask.upsample_norm])
    _head_conv_names(names, "mask_head/mask_fcn_logits", mask.mask_predictor)
    return names
