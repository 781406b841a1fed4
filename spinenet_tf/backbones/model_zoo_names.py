"""The TPU model zoo's variable names of a SpineNet or SpineNet-Mobile
backbone (`spinenet/...`, `spinenet_mbconv/...`).

Our layers create their convs and batch norms in the TPU code's order (a
projection shortcut before the main path), so the names follow from
walking the backbone scope by scope (`utils.tf1_variable_names`):

* `spinenet/`: the stem conv and its batch norm, the two level-2 stem block
  groups, then (after all blocks) the 1x1 endpoint convs of levels
  min..max (SpineNet-Mobile: `spinenet_mbconv/`, its two MBConv stem
  blocks; depthwise convs are numbered apart as `depthwise_conv2d`, the
  squeeze-excitation's two biased convs as `conv2d`);
* `spinenet/sub_policy{i}/resample_with_alpha_resample_{i}_{j}/`: the
  connection from parent `j` of block `i` (Mobile: `resample_with_sepconv`);
* `spinenet/sub_policy{i}/scale_permuted_block_{i + 2}/`: block `i`'s group.

The heads' names are each model family's (`model_zoo_names()` of its model).
"""

from spinenet_tf.backbones.spinenet import NUM_STEM_BLOCK_GROUPS, SpineNet
from spinenet_tf.backbones.spinenet_mobile import STEM_LEVELS, SpineNetMobile
from spinenet_tf.utils.tf1_variable_names import TF1Scope


def add_conv_norm_pairs(scope, layer):
    """The (conv, batch norm) pairs of a `ConvNormLayer` into `scope`, in
    order; an MBConv block's squeeze-excitation convs come after its
    depthwise conv's batch norm, where the TPU code creates them."""
    excitation = getattr(layer, "squeeze_excitation", None)
    for conv, norm, _ in layer.batch_norm_pairs():
        scope.add_conv(conv)
        scope.add_batch_norm(norm)
        if excitation is not None and conv is getattr(layer, "depthwise", None):
            scope.add_biased_conv(excitation.reduce_conv)
            scope.add_biased_conv(excitation.expand_conv)


def spinenet_names(backbone, names=None):
    """`{model-zoo name: keras variable}` of a `SpineNet` or `SpineNetMobile`
    backbone (added to `names` if given)."""
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
    top = TF1Scope(root, names)
    own_pairs = backbone.batch_norm_pairs()
    stem_conv, stem_norm, _ = own_pairs[0]
    top.add_conv(stem_conv)
    top.add_batch_norm(stem_norm)
    repeats = backbone.scaling["block_repeats"]
    for group in range(groups):
        for repeat in range(repeats):
            add_conv_norm_pairs(
                top, backbone.get_layer(f"stem{group + 1}_{stem_block}{repeat + 1}"))
    built = {layer.name for layer in backbone.layers}
    for i, spec in enumerate(backbone.block_specs):
        if f"block{i + 1}_resample0" not in built:
            continue  # feeds no endpoint, so not in the model (nor its weights)
        policy = f"{root}/sub_policy{i}"
        for j in range(2):
            add_conv_norm_pairs(TF1Scope(f"{policy}/{resample}_resample_{i}_{j}", names),
                                backbone.get_layer(f"block{i + 1}_resample{j}"))
        block_scope = TF1Scope(f"{policy}/scale_permuted_block_{i + 2}", names)
        for repeat in range(repeats):
            add_conv_norm_pairs(
                block_scope, backbone.get_layer(f"block{i + 1}_{spec.block_fn}{repeat + 1}"))
    for conv, norm, _ in own_pairs[1:]:
        top.add_conv(conv)
        top.add_batch_norm(norm)
    return names
