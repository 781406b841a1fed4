"""The inference form of a model: batch norm folded into the convolutions,
optionally computed end to end in bfloat16."""

import keras
import numpy as np

from spinenet_tf.backbones.scale_permuted_backbone import ScalePermutedBackbone
from spinenet_tf.compat.keras_internals import flatten_layers
from spinenet_tf.layers.fake_quantization import ActivationQuantizer
from spinenet_tf.layers.layer_form import FoldsBatchNorm
from spinenet_tf.models.base.family_model import FamilyModel
from spinenet_tf.utils.variable_paths import variables_by_path

PRECISIONS = ("float32", "bfloat16")


def inference_model(model, precision="float32"):
    """A copy of `model` for inference, with every conv + batch norm folded.

    In inference a batch norm is a per-channel affine map of the conv
    output before it, so it can live in that conv's kernel and bias: one
    pass over memory instead of two or three. This returns a model of the
    same class (a `SpineNet`, `SpineNetMobile`, or a family's model such as
    `RetinaNet`, `SpineNetClassifier` or `MaskRCNN`; it serialises, exports
    and has `serving_outputs` like the original) built with `form="folded"`
    (convs with biases, identities where the batch norms were; each
    RetinaNet head level gets its own tower convs; the two-stage heads keep
    their batch norms) and weights computed from `model`'s
    (moving statistics, not batch statistics). Regular, depthwise and
    separable convolutions are folded. Dropout and stochastic depth are
    kept (they are identities in inference).

    Args:
        model: the trained model (not modified).
        precision: "float32" (the same function up to rounding), or
            "bfloat16": weights, activations, resampling and head computed
            in bfloat16 (a `"bfloat16"` dtype policy, not mixed precision),
            with float32 inputs and outputs; RetinaNet decodes boxes and
            runs NMS in float32. Fast where the CPU has bfloat16 units
            (AVX-512 BF16, AMX) or on accelerators.

    Returns:
        The folded model. It is for inference: it has no batch norms to
        train.
    """
    if precision not in PRECISIONS:
        raise ValueError(
            f"`precision` must be one of {list(PRECISIONS)}; received {precision!r}.")
    return _folded_copy(model, precision)


def compute_dtype_of(model):
    """The dtype `model`'s weighted layers compute in ("float32", or
    "bfloat16" / "float16" for a model trained under a mixed policy).

    Not `model.compute_dtype`: a functional model loaded from a `.keras`
    file takes the global policy at load time for itself, while its layers
    keep the policies they were saved with."""
    dtypes = {keras.backend.standardize_dtype(layer.compute_dtype)
              for layer in flatten_layers(model)
              if layer.weights}
    return next((d for d in sorted(dtypes) if d != "float32"), "float32")


def quantization_aware_model(model):
    """A copy of `model` to fine-tune for int8: its inference form (batch
    norm folded, from the moving statistics, as the TFLite converter folds
    it) with fake quantization (`spinenet_tf.layers.fake_quantization`):
    kernels per output channel, conv outputs and activations to ranges that
    training learns. Converting it to int8 TFLite takes those ranges.

    Args:
        model: a trained float32 backbone, or a model whose head has a
            quantization-aware form (a `RetinaNet`: the one family whose
            config takes `model.quantization_aware`); not modified. Other
            heads (two-stage, the classifier's dense layer) stay float.
    """
    return _folded_copy(model, "float32", quantization_aware=True)


def _folded_copy(model, precision, quantization_aware=None):
    if not isinstance(model, (FamilyModel, ScalePermutedBackbone)):
        raise TypeError(
            "inference_model takes a SpineNet or SpineNetMobile backbone or a model of a "
            f"registered family; received a {model.__class__.__name__}.")
    if quantization_aware is None:  # a quantization-aware model stays so
        quantization_aware = any(isinstance(layer, ActivationQuantizer)
                                 for layer in flatten_layers(model))
    form = "quantization_aware" if quantization_aware else "folded"
    folded = model.__class__.from_config(model.folded_config(form, precision))
    _assign_folded_weights(model, folded)
    return folded


def batch_norm_pairs(model):
    """[(conv, batch norm, path of the conv that replaces both)] of every
    conv + batch norm pair in `model` (backbone layers and heads)."""
    return [pair for layer in flatten_layers(model, include_self=True)
            if isinstance(layer, FoldsBatchNorm) for pair in layer.batch_norm_pairs()]


def fold_batch_norm_weights(conv, norm):
    """{variable name: value} of `conv` with `norm` (in inference) folded
    in: output channel c is scaled by gamma_c / sqrt(var_c + eps), and
    the bias becomes beta_c + (bias_c - mean_c) * that scale."""
    def value(variable, default):
        return default if variable is None else np.asarray(
            keras.ops.convert_to_numpy(keras.ops.cast(variable, "float32")), np.float64)

    mean = value(norm.moving_mean, None)
    variance = value(norm.moving_variance, None)
    gamma = value(norm.gamma, np.ones_like(mean))
    beta = value(norm.beta, np.zeros_like(mean))
    scale = gamma / np.sqrt(variance + norm.epsilon)
    bias = value(conv.bias, np.zeros_like(mean)) if conv.use_bias else np.zeros_like(mean)
    weights = {"bias": beta + (bias - mean) * scale}
    if isinstance(conv, keras.layers.SeparableConv2D):
        weights["depthwise_kernel"] = value(conv.depthwise_kernel, None)
        weights["pointwise_kernel"] = value(conv.pointwise_kernel, None) * scale
    elif isinstance(conv, keras.layers.DepthwiseConv2D):
        kernel = value(conv.kernel, None)  # [kh, kw, in, multiplier]
        weights["kernel"] = kernel * scale.reshape(kernel.shape[2:])
    elif isinstance(conv, keras.layers.Conv2D):
        weights["kernel"] = value(conv.kernel, None) * scale
    else:
        raise TypeError(f"Cannot fold a batch norm into a {type(conv).__name__} "
                        f"({conv.path!r}).")
    return weights


def _assign_folded_weights(model, folded):
    values = dict(variables_by_path(model))
    targets = {}
    for conv, norm, target in batch_norm_pairs(model):
        for variable in conv.weights + norm.weights:
            values.pop(variable.path, None)
        targets[target] = fold_batch_norm_weights(conv, norm)
    layers = {layer.path: layer
              for layer in flatten_layers(folded)}
    assigned = set()
    for target, weights in targets.items():
        if target not in layers:
            raise ValueError(f"The folded model has no layer {target!r} to fold into.")
        for name, value in weights.items():
            variable = getattr(layers[target], name)
            variable.assign(value.astype(np.float32))
            assigned.add(id(variable))
    # Fake-quantization ranges start untrained, unless `model` has them.
    ranges = {id(variable)
              for layer in flatten_layers(folded)
              if isinstance(layer, ActivationQuantizer) for variable in layer.weights}
    for path, variable in variables_by_path(folded).items():
        if id(variable) in assigned or (id(variable) in ranges and path not in values):
            continue
        if path not in values:
            raise ValueError(
                f"The folded model's variable {path!r} has no counterpart in "
                f"{model.name!r}.")
        variable.assign(keras.ops.cast(values.pop(path), variable.dtype))
        assigned.add(id(variable))
    if values:
        raise ValueError(
            f"Variables of {model.name!r} have no place in the folded model: "
            f"{sorted(values)[:10]}.")
