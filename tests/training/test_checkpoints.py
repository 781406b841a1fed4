"""Checkpoints keyed by variable path: they reach every variable (a plain
tf.train.Checkpoint(model=...) does not under Keras 3), restore whatever
order variables were created in, and name what does not fit."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from support import SHORT_MOBILE_BLOCK_SPECS as SHORT

from spinenet_tf import RetinaNet, SpineNet, SpineNetClassifier, SpineNetMobile
from spinenet_tf.training.checkpoints import (
    CheckpointMismatchError,
    load_model_dir,
    optimizer_variables_by_path,
    restore_checkpoint,
    training_checkpoint,
    variables_by_path,
)


def tiny_retinanet(num_filters=8):
    return RetinaNet(SpineNetMobile("49XS", input_shape=(128, 128, 3),
                                    init_stochastic_depth_rate=0.2, block_specs=SHORT), 4,
                     head_num_convs=2, head_num_filters=num_filters,
                     use_separable_conv=True)


def with_optimizer(model):
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    optimizer.build(model.trainable_variables)
    return model, optimizer


def numbered(model, optimizer):
    """Gives every variable its own value; returns {checkpoint key: value}."""
    values = {}
    items = [("model", p, v) for p, v in variables_by_path(model).items()] + [
        ("optimizer", p, v) for p, v in optimizer_variables_by_path(optimizer).items()]
    for index, (section, path, variable) in enumerate(items):
        value = np.full(variable.shape, index + 1, variable.dtype)
        variable.assign(value)
        values[(section, path)] = value
    return values


@pytest.mark.parametrize("build", [
    tiny_retinanet,
    lambda: SpineNetClassifier(SpineNet("49S", input_shape=(128, 128, 3),
                                        filter_size_scale=0.25,
                                        endpoints_num_filters=16), 5, dropout_rate=0.1),
], ids=["retinanet-mobile", "classifier"])
def test_training_checkpoint_restores_every_variable(build, tmp_path):
    model, optimizer = with_optimizer(build())
    expected = numbered(model, optimizer)
    path = training_checkpoint(model, optimizer).write(str(tmp_path / "ckpt"))
    fresh, fresh_optimizer = with_optimizer(build())
    restore_checkpoint(path, fresh, fresh_optimizer)
    paths = variables_by_path(fresh)
    # Random-generator states are checkpointed too (stochastic depth, dropout).
    assert any("seed_generator" in p for p in paths)
    restored = {("model", p): v for p, v in paths.items()}
    restored.update({("optimizer", p): v
                     for p, v in optimizer_variables_by_path(fresh_optimizer).items()})
    assert restored.keys() == expected.keys()
    wrong = [key for key, v in restored.items()
             if not np.array_equal(v.numpy(), expected[key])]
    assert not wrong


class TwoBranches(keras.Model):
    """Dense layers "a" and "b" of the same shape on one input; `first` is
    the one made (and tracked) first."""

    def __init__(self, first):
        super().__init__(name="two_branches")
        for name in (first, {"a": "b", "b": "a"}[first]):
            setattr(self, name, keras.layers.Dense(3, name=name))
        self(np.zeros((1, 3), "float32"))

    def call(self, x):
        return [self.a(x), self.b(x)]


def test_a_checkpoint_restores_into_variables_created_in_another_order(tmp_path):
    source, target = TwoBranches("a"), TwoBranches("b")
    assert [v.path for v in source.variables] != [v.path for v in target.variables]
    for index, variable in enumerate(source.variables):
        variable.assign(np.full(variable.shape, index + 1.0, "float32"))
    path = training_checkpoint(source).write(str(tmp_path / "ckpt"))
    restore_checkpoint(path, target)
    x = np.random.default_rng(0).normal(size=(2, 3)).astype("float32")
    for got, want in zip(target(x), source(x)):
        np.testing.assert_array_equal(got, want)
    # By position, as spinenet_tf 0.1 keyed them, "a" and "b" would swap.
    positional = tf.train.Checkpoint(model_variables=list(source.variables)).write(
        str(tmp_path / "positional"))
    tf.train.Checkpoint(model_variables=list(target.variables)).read(positional)
    assert not np.array_equal(target(x)[0], source(x)[0])


def test_a_checkpoint_of_another_architecture_names_the_mismatch(tmp_path):
    path = training_checkpoint(tiny_retinanet(num_filters=8)).write(str(tmp_path / "ckpt"))
    other = RetinaNet(SpineNetMobile("49XS", input_shape=(128, 128, 3), block_specs=SHORT), 4,
                      head_num_convs=2, head_num_filters=16, use_separable_conv=True)
    with pytest.raises(CheckpointMismatchError, match=r"of another shape \('head/"):
        restore_checkpoint(path, other)
    deeper = RetinaNet(SpineNetMobile("49XS", input_shape=(128, 128, 3), block_specs=SHORT), 4,
                       head_num_convs=3, head_num_filters=8, use_separable_conv=True)
    with pytest.raises(CheckpointMismatchError, match=r"missing from it \('head/"):
        restore_checkpoint(path, deeper)


def test_an_old_positional_checkpoint_is_refused_with_the_reason(tmp_path):
    model = tiny_retinanet()
    path = tf.train.Checkpoint(model_variables=list(model.variables)).write(
        str(tmp_path / "old"))
    with pytest.raises(CheckpointMismatchError, match="spinenet_tf 0.1 checkpoint.*by "
                       "position"):
        restore_checkpoint(path, model)


def test_a_model_folder_loads_from_model_keras_and_its_checkpoint(tmp_path):
    model = tiny_retinanet()
    model.save(str(tmp_path / "model.keras"))
    numbered(*with_optimizer(model))
    manager = tf.train.CheckpointManager(training_checkpoint(model),
                                         str(tmp_path / "checkpoints"), max_to_keep=1)
    manager.save(checkpoint_number=7)
    loaded, checkpoint = load_model_dir(str(tmp_path))
    assert checkpoint.endswith("ckpt-7")
    for path, variable in variables_by_path(model).items():
        np.testing.assert_array_equal(variables_by_path(loaded)[path].numpy(),
                                      variable.numpy(), err_msg=path)
    with pytest.raises(FileNotFoundError, match="not a model folder"):
        load_model_dir(str(tmp_path / "checkpoints"))
