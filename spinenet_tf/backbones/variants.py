"""Named backbone variants: their builder, model id and paper input size."""

import dataclasses

from spinenet_tf.backbones.block_specs import MODEL_ZOO_SPINENET_BLOCK_SPECS
from spinenet_tf.backbones.spinenet import SpineNet
from spinenet_tf.backbones.spinenet_mobile import SpineNetMobile
from spinenet_tf.utils.suggestions import did_you_mean

# The two codes SpineNet was published with. "model_garden" (tf-models-
# official, the default) and "tpu" (tensorflow/tpu's model zoo, whose TF1
# checkpoints need its conventions): fixed padding of strided convs; for
# SpineNet one max-pool per cross-scale down-sampling and fifteen block
# specs; for SpineNet-Mobile a swish / sigmoid squeeze-excitation.
FLAVORS = ("model_garden", "tpu")
TPU_SPINENET_OPTIONS = dict(conv_padding="fixed", downsampling="single_pool",
                            block_specs=MODEL_ZOO_SPINENET_BLOCK_SPECS)
TPU_SPINENET_MOBILE_OPTIONS = dict(conv_padding="fixed", se_inner_activation="swish",
                                   se_gating_activation="sigmoid")


def flavor_options(builder, flavor):
    """The backbone arguments of `flavor` for `builder` (SpineNet, ...)."""
    if flavor not in FLAVORS:
        raise ValueError(f"`flavor` must be one of {list(FLAVORS)}; received {flavor!r}.")
    if flavor == "model_garden":
        return {}
    return dict(TPU_SPINENET_OPTIONS if builder is SpineNet
                else TPU_SPINENET_MOBILE_OPTIONS)


@dataclasses.dataclass(frozen=True)
class Variant:
    """A named backbone with its reference figures (counted with the installed
    tf-models-official 2.20, or published with the papers and Model Garden).

    Attributes:
        name: CLI name, e.g. "spinenet-49".
        builder: `SpineNet` or `SpineNetMobile`.
        model_id: the builder's model id.
        paper_image_size: input side used in the papers' COCO recipes.
        reference_params: backbone parameters built by tf-models-official
            2.20 (min_level 3, max_level 7).
        published_params: backbone parameters measured with TFM 2.15 code
            (MODEL_GARDEN.md of tf-models-official); None where not given.
    """

    name: str
    builder: type
    model_id: str
    paper_image_size: int
    reference_params: int
    published_params: float = None

    def build(self, image_size=None, flavor="model_garden", **kwargs):
        """The backbone at `image_size` (a side or (height, width); default:
        the paper's), in `flavor` ("model_garden" or "tpu"); `kwargs` go to
        the builder."""
        size = image_size or self.paper_image_size
        height, width = (size, size) if isinstance(size, int) else size
        options = {**flavor_options(self.builder, flavor), **kwargs}
        return self.builder(self.model_id, input_shape=(height, width, 3), **options)


VARIANTS = {
    v.name: v
    for v in (
        Variant("spinenet-49s", SpineNet, "49S", 640, 9_146_351, 9.09e6),
        Variant("spinenet-49", SpineNet, "49", 640, 21_920_192, 21.83e6),
        Variant("spinenet-96", SpineNet, "96", 1024, 36_385_728, 36.26e6),
        Variant("spinenet-143", SpineNet, "143", 1280, 60_413_888, 60.25e6),
        Variant("spinenet-143l", SpineNet, "143L", 1280, 101_011_093),
        Variant("spinenet-190", SpineNet, "190", 1280, 126_849_216, 126.59e6),
        Variant("spinenet-mobile-49", SpineNetMobile, "49", 384, 2_313_892, 2.269e6),
        Variant("spinenet-mobile-49s", SpineNetMobile, "49S", 384, 1_004_872, 0.976e6),
        Variant("spinenet-mobile-49xs", SpineNetMobile, "49XS", 256, 869_400, 0.842e6),
    )
}


def get_variant(name):
    """Looks a variant up by name, case-insensitively; an error with the
    closest names otherwise."""
    key = str(name).lower()
    if key not in VARIANTS:
        raise ValueError(f"Unknown backbone variant {name!r}{did_you_mean(key, VARIANTS)}; "
                         f"choose one of {list(VARIANTS)}.")
    return VARIANTS[key]


def variant_of(backbone):
    """The named variant a built backbone is (its class and model id); an
    error for one that is not a named variant's class."""
    for variant in VARIANTS.values():
        if (variant.builder is type(backbone)
                and variant.model_id.lower() == str(backbone.model_id).lower()):
            return variant
    raise ValueError(f"Backbone {backbone.name!r} ({type(backbone).__name__}) is no named "
                     f"variant's; the variants are {list(VARIANTS)}.")
