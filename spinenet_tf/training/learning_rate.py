"""The reference's learning-rate schedule: linear warmup, then stepwise."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="spinenet_tf")
class StepwiseWithWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """Piecewise-constant learning rate after a linear warmup.

    For step < `warmup_steps` the rate goes linearly from
    `warmup_learning_rate` to the stepwise rate at `warmup_steps`, as
    tf-models-official's `LinearWarmup`; then `values[i]` applies between
    `boundaries[i - 1]` and `boundaries[i]` (Keras' `PiecewiseConstantDecay`).
    """

    def __init__(self, boundaries, values, warmup_steps=0, warmup_learning_rate=0.0):
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                "`values` needs one more entry than `boundaries`; received "
                f"{values} and {boundaries}.")
        self.boundaries = [int(b) for b in boundaries]
        self.values = [float(v) for v in values]
        self.warmup_steps = int(warmup_steps)
        self.warmup_learning_rate = float(warmup_learning_rate)
        self._stepwise = keras.optimizers.schedules.PiecewiseConstantDecay(
            self.boundaries, self.values) if self.boundaries else None

    def _after_warmup(self, step):
        if self._stepwise is None:
            return ops.cast(self.values[0], "float32")
        return ops.cast(self._stepwise(step), "float32")

    def __call__(self, step):
        step = ops.cast(step, "float32")
        rate = self._after_warmup(step)
        if not self.warmup_steps:
            return rate
        target = self._after_warmup(float(self.warmup_steps))
        warm = self.warmup_learning_rate + (step / self.warmup_steps) * (
            target - self.warmup_learning_rate)
        return ops.where(step < self.warmup_steps, warm, rate)

    def get_config(self):
        return {
            "boundaries": self.boundaries,
            "values": self.values,
            "warmup_steps": self.warmup_steps,
            "warmup_learning_rate": self.warmup_learning_rate,
        }
