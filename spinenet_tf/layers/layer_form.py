"""The one option that says in which form conv + batch-norm layers are built."""

import dataclasses

FORMS = ("trainable", "folded", "quantization_aware")


@dataclasses.dataclass(frozen=True)
class LayerForm:
    """How every conv + batch norm of a model is built.

    - "trainable": conv without bias, then a batch norm (what trains);
    - "folded": the inference form, conv with bias and no batch norm, its
      affine map folded into kernel and bias (`spinenet_tf.inference_model`
      computes those weights);
    - "quantization_aware": the folded form with fake quantization: kernels
      per output channel, conv outputs and activations to ranges learned in
      training (`spinenet_tf.quantization_aware_model`).

    Backbones, blocks, resampling and heads take it as `form` (a name or a
    `LayerForm`) and serialise its name, so a saved model is rebuilt in the
    same form; the task models pass the backbone's form to their heads.
    """

    name: str = "trainable"

    def __post_init__(self):
        if self.name not in FORMS:
            raise ValueError(f"`form` must be one of {list(FORMS)}; received {self.name!r}.")

    @classmethod
    def get(cls, form):
        """A `LayerForm` from a name, a `LayerForm` or None ("trainable")."""
        if isinstance(form, cls):
            return form
        if form is None:
            return cls()
        if not isinstance(form, str):
            raise ValueError(f"`form` must be one of {list(FORMS)} or a LayerForm; "
                             f"received {form!r}.")
        return cls(form)

    @property
    def folds_batch_norm(self):
        return self.name != "trainable"

    @property
    def fake_quantizes(self):
        return self.name == "quantization_aware"


def form_from_legacy_config(config):
    """`config` with the `fold_batch_norm` / `quantization_aware` flags of
    files saved by spinenet_tf <= 0.6 replaced by their `form`."""
    config = dict(config)
    folded = config.pop("fold_batch_norm", None)
    fake_quantized = config.pop("quantization_aware", None)
    if folded is not None or fake_quantized is not None:
        config.setdefault("form", "quantization_aware" if fake_quantized else
                          "folded" if folded else "trainable")
    return config


class FoldsBatchNorm:
    """A layer or model whose convs are followed by batch norms it owns:
    `batch_norm_pairs()` lists them for `spinenet_tf.inference_model`."""

    def batch_norm_pairs(self):
        """[(conv, batch norm, path of the conv that replaces both in the
        folded form)]; empty in a folded form."""
        raise NotImplementedError


def folded_config(config, form, precision):
    """A backbone's `config` rebuilt in `form` and `precision` (the
    `fold_batch_norm` / `quantization_aware` flags of old files dropped)."""
    config = form_from_legacy_config(config)
    config["form"] = form
    config["dtype"] = precision
    return config
