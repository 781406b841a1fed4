"""The training checkpoint reaches every variable of our models (a plain
tf.train.Checkpoint(model=...) does not under Keras 3: layers held in lists
or dicts are not followed)."""

import keras
import numpy as np
import pytest

from spinenet_tf import RetinaNet, SpineNet, SpineNetClassifier, SpineNetMobile
from spinenet_tf.training.trainer import training_checkpoint


@pytest.mark.parametrize("build", [
    lambda: RetinaNet(SpineNetMobile("49XS", input_shape=(128, 128, 3),
                                     init_stochastic_depth_rate=0.2), 4,
                      head_num_convs=2, head_num_filters=8, use_separable_conv=True),
    lambda: SpineNetClassifier(SpineNet("49S", input_shape=(128, 128, 3),
                                        filter_size_scale=0.25,
                                        endpoints_num_filters=16), 5, dropout_rate=0.1),
], ids=["retinanet-mobile", "classifier"])
def test_training_checkpoint_restores_every_variable(build, tmp_path):
    def make():
        model = build()
        optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
        optimizer.build(model.trainable_variables)
        return model, optimizer

    model, optimizer = make()
    variables = model.variables + optimizer.variables
    for index, variable in enumerate(variables):
        variable.assign(np.full(variable.shape, index + 1, variable.dtype))
    path = training_checkpoint(model, optimizer).write(str(tmp_path / "ckpt"))
    fresh, fresh_optimizer = make()
    training_checkpoint(fresh, fresh_optimizer).read(path).assert_consumed()
    restored = fresh.variables + fresh_optimizer.variables
    assert [v.path for v in restored if "seed_generator" in v.path]
    missing = [v.path for i, v in enumerate(restored) if not np.all(v.numpy() == i + 1)]
    assert not missing
