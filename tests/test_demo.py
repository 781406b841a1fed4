"""The demo's configuration (the demo itself runs in the README command)."""

from spinenet_tf.demo import demo_config


def test_demo_config_points_at_the_generated_data(tmp_path):
    config = demo_config(str(tmp_path))
    assert config.train_data.annotations == str(tmp_path / "train" / "annotations.json")
    assert config.eval_data.image_dir == str(tmp_path / "val" / "images")
    assert config.model.backbone == "spinenet-mobile-49xs"


def test_shorter_demo_runs_keep_a_valid_schedule(tmp_path):
    config = demo_config(str(tmp_path), train_steps=30)
    assert config.trainer.train_steps == 30
    assert all(b < 30 for b in config.optimizer.boundaries)
    assert len(config.optimizer.values) == len(config.optimizer.boundaries) + 1
