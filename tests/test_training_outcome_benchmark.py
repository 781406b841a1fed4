"""benchmarks/training_outcome.py gives both sides one recipe: the parts
that translate it, checked without training."""

import importlib.util
import os

import pytest

from spinenet_tf.data import synthetic

_PATH = os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks", "training_outcome.py")


@pytest.fixture(scope="module")
def outcome():
    import spinenet_tf.cli.demo  # noqa: F401  (its absl flags, as in one test process)

    spec = importlib.util.spec_from_file_location("training_outcome", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def folders(tmp_path_factory, outcome):
    root = tmp_path_factory.mktemp("shapes")
    synthetic.generate(str(root), 2, 2, image_size=128, min_side=16)
    return outcome.data_folders(str(root), str(root), outcome.RECIPES["demo"])


def test_schedule_decays_tenfold_at_fractions_of_the_steps(outcome):
    boundaries, values = outcome.schedule(outcome.RECIPES["sgd"], 500)
    assert boundaries == [400, 450]
    assert values == [0.08, 0.008, 0.0008]
    assert outcome.schedule(outcome.RECIPES["sgd"], 100)[0] == [80, 90]


@pytest.mark.parametrize("name", ["sgd", "demo"])
def test_our_config_is_the_recipe(outcome, folders, name):
    recipe = outcome.RECIPES[name]
    config = outcome.our_config(recipe, folders, 4, 300, seed=2)
    assert config.model.backbone == recipe["backbone"]
    assert list(config.model.image_size) == [recipe["image_size"]] * 2
    assert config.model.num_classes == 4 and config.model.activation == recipe["activation"]
    assert config.train_data.batch_size == recipe["batch_size"]
    assert (config.train_data.aug_scale_min, config.train_data.aug_scale_max) == \
        recipe["aug_scale"]
    assert config.optimizer.type == recipe["optimizer"]
    assert list(config.optimizer.boundaries) == outcome.schedule(recipe, 300)[0]
    assert config.optimizer.warmup_steps == recipe["warmup_steps"]
    assert config.trainer.train_steps == 300 and config.trainer.seed == 2
    assert config.trainer.mixed_precision is None
    assert config.train_data.annotations == folders["train"][0]
    assert config.eval_data.annotations == folders["val"][0]


@pytest.mark.reference
@pytest.mark.parametrize("name", ["sgd", "demo"])
def test_reference_experiment_is_the_same_recipe(outcome, name):
    pytest.importorskip("official")
    recipe = outcome.RECIPES[name]
    experiment = outcome.reference_experiment(recipe, "/data/train-*.tfrecord", 4, 300, 1)
    task, optimizer = experiment.task, experiment.trainer.optimizer_config
    assert task.model.backbone.spinenet_mobile.model_id == {"sgd": "49S", "demo": "49XS"}[name]
    assert task.model.input_size == [recipe["image_size"], recipe["image_size"], 3]
    assert task.model.num_classes == 4
    assert task.model.head.num_filters == recipe["head_num_filters"]
    assert task.model.anchor.anchor_size == recipe["anchor_size"]
    assert task.train_data.global_batch_size == recipe["batch_size"]
    assert (task.train_data.parser.aug_scale_min, task.train_data.parser.aug_scale_max) == \
        recipe["aug_scale"]
    assert optimizer.optimizer.type == recipe["optimizer"]
    boundaries, values = outcome.schedule(recipe, 300)
    assert list(optimizer.learning_rate.stepwise.boundaries) == boundaries
    assert list(optimizer.learning_rate.stepwise.values) == values
    assert optimizer.warmup.linear.warmup_steps == recipe["warmup_steps"]
    assert task.losses.l2_weight_decay == recipe["l2_weight_decay"]


def test_summary_means_spreads_and_ratio(outcome):
    summary = outcome.summarise({
        "ours": [{"AP": 0.5, "AP50": 0.8}, {"AP": 0.3, "AP50": 0.6}],
        "reference": [{"AP": 0.4, "AP50": 0.7}, {"AP": 0.4, "AP50": 0.7}]})
    assert summary["ours"]["AP"] == {"mean": pytest.approx(0.4), "spread": pytest.approx(0.2)}
    assert summary["ours_over_reference"]["AP"] == pytest.approx(1.0)
    assert summary["ours_over_reference"]["AP50"] == pytest.approx(1.0)


def test_a_folder_without_the_splits_is_a_usage_error(outcome, tmp_path):
    from absl import app

    with pytest.raises(app.UsageError, match="has no train/annotations.json"):
        outcome.data_folders(str(tmp_path), str(tmp_path), outcome.RECIPES["sgd"])


@pytest.mark.parametrize("name", ["sgd", "demo", "demo_sgd"])
def test_overrides_read_the_same_with_plain_pyyaml(outcome, folders, name):
    """`--ours_at` hands the overrides to older commits' train.py, which read
    them with PyYAML: numbers must stay numbers there (`3e-05` is a string
    to PyYAML)."""
    import yaml

    recipe = outcome.RECIPES[name]
    values = dict(o.split("=", 1) for o in outcome.our_overrides(recipe, folders, 4, 300, 1))
    read = {key: yaml.safe_load(value) for key, value in values.items()}
    assert read["losses.l2_weight_decay"] == pytest.approx(recipe["l2_weight_decay"])
    assert read["optimizer.warmup_learning_rate"] == pytest.approx(
        recipe["warmup_learning_rate"])
    assert read["optimizer.values"] == pytest.approx(outcome.schedule(recipe, 300)[1])
    assert all(isinstance(v, float) for v in read["optimizer.values"])
    if "momentum" in recipe:
        assert read["optimizer.momentum"] == recipe["momentum"]


def test_ours_at_an_unknown_commit_is_a_usage_error(outcome, tmp_path):
    from absl import app

    with pytest.raises(app.UsageError, match="'no-such-commit' is not a commit"):
        outcome.worktree_of("no-such-commit", str(tmp_path))


def test_set_changes_recipe_values_of_their_kind(outcome):
    recipe = outcome.recipe_with(outcome.RECIPES["sgd"], [
        "learning_rate=0.02", "aug_scale=(0.8, 1.25)", "stochastic_depth=None",
        "global_clipnorm=10.0", "steps=300"])
    assert recipe["learning_rate"] == 0.02 and recipe["aug_scale"] == (0.8, 1.25)
    assert recipe["stochastic_depth"] is None and recipe["global_clipnorm"] == 10.0
    assert recipe["steps"] == 300
    assert outcome.RECIPES["sgd"]["learning_rate"] == 0.08  # the recipe itself is kept


@pytest.mark.parametrize("setting, message", [
    ("learning_rat=0.02", "key=value with a key of the recipe"),
    ("learning_rate", "key=value with a key of the recipe"),
    ("learning_rate=fast", "not a Python literal"),
    ("aug_scale=0.5", "of another kind"),
    ("use_separable_conv=1", "of another kind"),
])
def test_a_bad_setting_is_a_usage_error_that_names_it(outcome, setting, message):
    from absl import app

    with pytest.raises(app.UsageError, match=message) as error:
        outcome.recipe_with(outcome.RECIPES["sgd"], [setting])
    assert setting.split("=")[0] in str(error.value)  # says which setting was wrong


def test_runs_of_other_settings_have_other_folders(outcome):
    assert outcome.run_name("sgd", []) == "sgd"
    names = {outcome.run_name("sgd", ["learning_rate=0.02"]),
             outcome.run_name("sgd", ["learning_rate=0.04"]),
             outcome.run_name("sgd", ["aug_scale=(0.8, 1.25)"])}
    assert len(names) == 3 and all("/" not in name and " " not in name for name in names)
