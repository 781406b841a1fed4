"""How TF1 code named its variables, for reading the TPU model zoo's files.

tensorflow/tpu's TF1 code builds layers with `tf.compat.v1.layers`, which
number their variables by creation order within each variable scope:
`conv2d`, `conv2d_1`, ... and `batch_normalization`,
`batch_normalization_1`, ... `TF1Scope` numbers Keras layers the same way;
the backbones and each model family walk their layers in the TPU code's
creation order through it and get `{name in the file: keras variable}`.
"""

import keras

BATCH_NORM_WEIGHTS = ("gamma", "beta", "moving_mean", "moving_variance")


def batch_norm_variables(norm):
    """(gamma, beta, moving_mean, moving_variance) of a batch norm."""
    return (norm.gamma, norm.beta, norm.moving_mean, norm.moving_variance)


class TF1Scope:
    """Numbers `conv2d` / `depthwise_conv2d` / `batch_normalization` /
    `dense` as one TF1 variable scope does, writing into `names`."""

    def __init__(self, name, names):
        self.name = name
        self.names = names
        self.counts = {}

    def layer_name(self, kind):
        """The next auto-numbered layer of `kind` in this scope."""
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
            self.names[f"{self.layer_name('depthwise_conv2d')}/depthwise_kernel"] = (
                conv.kernel)
        else:
            self.names[f"{self.layer_name('conv2d')}/kernel"] = conv.kernel

    def add_biased_conv(self, conv):
        """A conv with its own bias (squeeze-excitation)."""
        layer = self.layer_name("conv2d")
        self.names[f"{layer}/kernel"] = conv.kernel
        self.names[f"{layer}/bias"] = conv.bias

    def add_batch_norm(self, norm):
        add_batch_norm_names(self.names, self.layer_name("batch_normalization"), norm)

    def add_dense(self, dense):
        layer = self.layer_name("dense")
        self.names[f"{layer}/kernel"] = dense.kernel
        self.names[f"{layer}/bias"] = dense.bias


def add_batch_norm_names(names, layer_name, norm):
    """`layer_name/{gamma, beta, moving_mean, moving_variance}` of `norm`."""
    for weight, variable in zip(BATCH_NORM_WEIGHTS, batch_norm_variables(norm)):
        names[f"{layer_name}/{weight}"] = variable


def add_head_conv_names(names, layer_name, conv):
    """A head conv (or dense layer) with its bias: `kernel`, or
    `depthwise_kernel` and `pointwise_kernel` for a separable one."""
    if isinstance(conv, keras.layers.SeparableConv2D):
        names[f"{layer_name}/depthwise_kernel"] = conv.depthwise_kernel
        names[f"{layer_name}/pointwise_kernel"] = conv.pointwise_kernel
    else:
        names[f"{layer_name}/kernel"] = conv.kernel
    names[f"{layer_name}/bias"] = conv.bias


def add_numbered_batch_norms(names, scope, norms):
    """`norms` as a scope's `batch_normalization`, `batch_normalization_1`, ..."""
    numbered = TF1Scope(scope, names)
    for norm in norms:
        numbered.add_batch_norm(norm)
