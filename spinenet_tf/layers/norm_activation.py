"""The activation and batch-norm settings a backbone's heads follow."""

import dataclasses

from spinenet_tf.layers.layer_form import LayerForm


@dataclasses.dataclass(frozen=True)
class NormActivation:
    """How a model's convs are normalised and activated: what a head takes
    from the backbone under it, so both train and fold alike.

    Attributes:
        activation: "relu", "swish" or "hard_swish".
        use_sync_bn: synchronise batch statistics across replicas.
        norm_momentum, norm_epsilon: the batch norms' settings.
        form: the `LayerForm` (trainable, folded, quantization-aware).
    """

    activation: str = "relu"
    use_sync_bn: bool = False
    norm_momentum: float = 0.99
    norm_epsilon: float = 1e-3
    form: LayerForm = LayerForm()

    def head_kwargs(self):
        """The settings as keyword arguments of the heads' layers."""
        return dict(activation=self.activation, use_sync_bn=self.use_sync_bn,
                    norm_momentum=self.norm_momentum, norm_epsilon=self.norm_epsilon)
