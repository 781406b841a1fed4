"""Experiment configs (every file in configs/ loads) and the LR schedule."""

import glob
import os

import numpy as np
import pytest

from spinenet_tf.config import ConfigError, load_config
from spinenet_tf.training.learning_rate import StepwiseWithWarmup

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = sorted(glob.glob(os.path.join(ROOT, "configs", "*.yaml")))


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_every_shipped_config_loads(path):
    assert len(CONFIGS) >= 10
    config = load_config(path)
    assert config.trainer.train_steps % config.trainer.checkpoint_every == 0


def test_overrides_apply_and_typos_are_errors(tmp_path):
    path = os.path.join(ROOT, "configs", "retinanet_mobile_synthetic_demo.yaml")
    config = load_config(path, ["trainer.train_steps=300", "model.image_size=[128, 192]",
                                "optimizer.values=[0.1]", "optimizer.boundaries=[]"])
    assert config.trainer.train_steps == 300 and config.model.image_size == [128, 192]
    with pytest.raises(ConfigError, match=r"trainer.train_stepz is not a setting "
                       r"\(did you mean 'train_steps'\?\)"):
        load_config(path, ["trainer.train_stepz=3"])
    with pytest.raises(ConfigError, match="not `section.key=value`"):
        load_config(path, ["trainer.train_steps"])
    with pytest.raises(ConfigError, match="must be a multiple"):
        load_config(path, ["trainer.train_steps=150", "trainer.checkpoint_every=100"])
    with pytest.raises(ConfigError, match=r"optimizer.type must be one of \['sgd', 'adam'\]; "
                       "received 'lamb'"):
        load_config(path, ["optimizer.type=lamb"])
    with pytest.raises(ConfigError, match="mixed_precision must be .*received 'bf16'"):
        load_config(path, ["trainer.mixed_precision=bf16"])
    assert load_config(path, ["trainer.mixed_precision=auto"]).trainer.mixed_precision == "auto"
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(str(bad))


@pytest.mark.reference
def test_schedule_equals_model_garden_linear_warmup_stepwise():
    pytest.importorskip("official")  # the oracle: TensorFlow 2.20 only
    import tf_keras
    from official.modeling.optimization import lr_schedule
    boundaries, values = [300, 450], [0.32, 0.032, 0.0032]
    reference = lr_schedule.LinearWarmup(
        tf_keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values),
        warmup_steps=200, warmup_learning_rate=0.0067)
    ours = StepwiseWithWarmup(boundaries, values, 200, 0.0067)
    for step in [0, 1, 100, 199, 200, 299, 300, 301, 449, 450, 451, 1000]:
        np.testing.assert_allclose(ours(step), reference(step).numpy(), rtol=1e-6)


def test_schedule_rejects_mismatched_values():
    with pytest.raises(ValueError, match="one more entry"):
        StepwiseWithWarmup([10, 20], [0.1, 0.01])


def test_each_family_section_has_its_recipe_defaults():
    """A section that omits a key gets its family's recipe, not another
    family's: a Mask R-CNN without `num_scales` has the recipe's one scale
    (3 anchors a location, not RetinaNet's 9) and relu."""
    from spinenet_tf.config import config_from_dict

    maskrcnn = config_from_dict({"model": {"type": "maskrcnn", "backbone": "spinenet-49"}})
    retinanet = config_from_dict({"model": {"type": "retinanet", "backbone": "spinenet-49"}})
    assert (maskrcnn.model.num_scales, maskrcnn.model.activation) == (1, "relu")
    assert (retinanet.model.num_scales, retinanet.model.activation) == (3, "swish")
    assert type(maskrcnn.losses).__name__ == "MaskRCNNLosses"
    assert maskrcnn.losses.rpn_huber_delta == pytest.approx(1 / 9)
    with pytest.raises(ConfigError, match=r"losses.focal_gamma is a setting of the retinanet "
                       r"family, not of model.type 'maskrcnn'"):
        config_from_dict({"model": {"type": "maskrcnn"}, "losses": {"focal_gamma": 2.0}})
    with pytest.raises(ConfigError, match=r"model.type: Unknown model family 'retinanett' "
                       r"\(did you mean 'retinanet'\?\)"):
        config_from_dict({"model": {"type": "retinanett"}})

