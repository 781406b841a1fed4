"""Stochastic depth: drop a residual branch per sample while training."""

import keras


@keras.saving.register_keras_serializable(package="spinenet_tf")
class StochasticDepth(keras.layers.Layer):
    """Zeroes the whole residual branch of a sample with probability `rate`.

    Survivors are scaled by 1 / (1 - rate), so inference (where the layer is
    the identity) sees the expected value (Huang et al. 2016). One Bernoulli
    draw per sample, shared over height, width and channels.

    Args:
        rate: drop probability in [0, 1).
        seed: optional seed for reproducible drops.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(
                f"`rate` must be in [0, 1); received rate={rate!r}."
            )
        self.rate = rate
        self.seed = seed

    def build(self, input_shape):
        # Made here, not in __init__, so that its state variable is named
        # after where the layer sits ("block3_mbconv1/stochastic_depth/...")
        # rather than numbered per process: checkpoints key variables by path.
        self.seed_generator = keras.random.SeedGenerator(
            self.seed, name="seed_generator")

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        batch = keras.ops.shape(inputs)[0]
        noise_shape = (batch,) + (1,) * (len(inputs.shape) - 1)
        return keras.random.dropout(
            inputs, self.rate, noise_shape=noise_shape, seed=self.seed_generator
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
