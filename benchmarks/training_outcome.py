"""Does a whole training run end as well as the reference's? spinenet_tf and
tf-models-official trained on the same COCO-format data with the same
recipe, budget and evaluation, for several seeds each.

    python benchmarks/training_outcome.py [--coco_dir DIR] [--recipe sgd|demo|demo_sgd] \\
        [--set key=value ...] [--seeds 3] [--first_seed 0] [--steps N] \\
        [--sides ours,reference] [--ours_at COMMIT,...] [--output_dir DIR] [--json out.json]

* ours: `spinenet_tf.training.Trainer` on the config the recipe gives
  (`spinenet-train` with those `--set` values), its own input pipeline
  (`DetectionInput`: flip and scale jitter), checkpoints and evaluation;
* reference: tf-models-official's `RetinaNetTask` (the experiment
  `retinanet_spinenet_mobile_coco` with the recipe's values), its
  `build_inputs` on TFRecords of the same data (Model Garden's schema,
  `spinenet_tf.data.tfrecords`; its parser does the flip and scale jitter),
  its optimizer factory and `train_step` in a `tf.function`, as its trainer
  runs it.

Both are scored by `spinenet_tf.evaluation.evaluate_detector` (pycocotools)
on the same validation images in the same geometry (the reference model's
boxes mapped back to the original pixels as ours are). Prints the CPU flags,
AP / AP50 per seed and side, each side's mean and spread (max - min), and
the ratio of the mean APs, ours / reference.

Recipes (`RECIPES`):

* `sgd` (default): RetinaNet SpineNet-Mobile-49S at 384 (the COCO recipe's
  head, activation, stochastic depth and losses) on the synthetic shapes at
  384 px, batch 8, SGD with momentum 0.9 and linear warm-up, scale jitter
  0.5-2.0 and flips; 500 steps. On 2 CPU cores a run with its evaluation
  took 22.5 minutes on an Intel Xeon with AMX (2.6 s a step) and 8-12 on an
  AMD EPYC (1.0-1.4 s): 3 seeds of both sides take one to two hours
  (`--seeds 1`, `--first_seed` or fewer `--steps` for less). It learns
  little in 500 steps (AP 0.002-0.09), so seeds scatter widely and a
  ratio of three seeds does not read (docs/benchmarks.md).
* `demo`: the demo's model and Adam recipe (`spinenet-demo`: Mobile-49XS at
  128, batch 16, 600 steps; the reference with Model Garden's Adam and the
  same clipping and schedule).
* `demo_sgd`: the demo's model on the SGD recipe the demo had before the
  training-speed change (lr 0.08, 1600 steps, scale jitter 0.8-1.25): a
  recipe every commit since the first figures can train, for the
  bisection, and the SGD recipe that trains far enough (AP 0.45-0.62) in
  about 6 minutes a run for three seeds a side to give a ratio.

`--ours_at` trains given commits of this repository as well, each with its
own train.py and package (a git worktree under --output_dir, run in a
subprocess), on the same data and recipe: sides `ours@COMMIT`. A run whose
folder already holds its metrics.json is read instead of trained again, so
an interrupted bisection resumes. `--sides=` (empty) trains only those.

`--set key=value` changes one value of the recipe for both sides (a key of
`RECIPES`, a Python literal of the same kind: `--set learning_rate=0.02
--set 'aug_scale=(0.8, 1.25)'`); runs of other settings get other folders.

`--coco_dir` takes any folder with `train/annotations.json`,
`train/images`, `val/annotations.json`, `val/images` (a class count of the
largest category id + 1). Needs the `garden` extra.
"""

import ast
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS

# One recipe, both sides. Boundaries are fractions of the steps.
RECIPES = {
    "sgd": dict(
        backbone="spinenet-mobile-49s", image_size=384, activation="hard_swish",
        head_num_convs=4, head_num_filters=40, use_separable_conv=True,
        stochastic_depth=0.2, anchor_size=3.0, batch_size=8, steps=500,
        aug_scale=(0.5, 2.0), optimizer="sgd", learning_rate=0.08,
        decay_at=(0.8, 0.9), warmup_steps=50, warmup_learning_rate=0.0067,
        global_clipnorm=None, l2_weight_decay=3e-5, synthetic_min_side=12),
    "demo": dict(
        backbone="spinenet-mobile-49xs", image_size=128, activation="swish",
        head_num_convs=4, head_num_filters=24, use_separable_conv=True,
        stochastic_depth=None, anchor_size=2.0, batch_size=16, steps=600,
        aug_scale=(0.8, 1.25), optimizer="adam", learning_rate=0.006,
        decay_at=(0.75, 0.9), warmup_steps=85, warmup_learning_rate=0.0004,
        global_clipnorm=10.0, l2_weight_decay=3e-5, synthetic_min_side=16),
    # The demo's model on the SGD recipe that the demo had until the
    # training-speed change (1600 steps): it learns in a few minutes with
    # SGD, which every commit since the first figures can train, so it is
    # the bisection's recipe (--ours_at).
    "demo_sgd": dict(
        backbone="spinenet-mobile-49xs", image_size=128, activation="swish",
        head_num_convs=4, head_num_filters=24, use_separable_conv=True,
        stochastic_depth=None, anchor_size=2.0, batch_size=16, steps=1600,
        aug_scale=(0.8, 1.25), optimizer="sgd", momentum=0.9, learning_rate=0.08,
        decay_at=(0.78125, 0.90625), warmup_steps=100, warmup_learning_rate=0.0067,
        global_clipnorm=10.0, l2_weight_decay=3e-5, synthetic_min_side=16),
}


def recipe_with(recipe, settings):
    """The recipe with `key=value` settings (`--set`): values read as Python
    literals (`0.02`, `None`, `(0.8, 1.25)`), each key one the recipe has and
    each value of its kind, so a typo fails before an hour of training."""
    recipe = dict(recipe)
    for setting in settings:
        key, separator, text = setting.partition("=")
        key = key.strip()
        if not separator or key not in recipe:
            raise app.UsageError(f"--set takes key=value with a key of the recipe "
                                 f"({', '.join(sorted(recipe))}); received {setting!r}.")
        try:
            value = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError) as error:
            raise app.UsageError(f"--set {key}: {text!r} is not a Python literal "
                                 f"(0.02, None, (0.8, 1.25), 'sgd'): {error}.") from error
        old = recipe[key]
        numbers = (int, float)
        same_kind = (value is None or old is None or type(value) is type(old)
                     or (isinstance(value, numbers) and isinstance(old, numbers)
                         and not isinstance(value, bool) and not isinstance(old, bool)))
        if not same_kind:
            raise app.UsageError(f"--set {key}: the recipe's value is {old!r}; received "
                                 f"{value!r}, of another kind.")
        recipe[key] = value
    return recipe


def run_name(recipe_name, settings):
    """The recipe's name and its `--set` values, as a folder name: runs of
    other settings never read or overwrite each other's."""
    suffix = "".join("_" + "".join(c if c.isalnum() or c in ".-" else "-"
                                   for c in setting.replace(" ", ""))
                     for setting in settings)
    return recipe_name + suffix


def schedule(recipe, steps):
    """Boundaries and values of the step-wise schedule (x0.1 at each)."""
    boundaries = [int(round(fraction * steps)) for fraction in recipe["decay_at"]]
    values = [round(recipe["learning_rate"] * 0.1 ** i, 12) for i in range(len(boundaries) + 1)]
    return boundaries, values


def data_folders(coco_dir, output_dir, recipe):
    """{"train"/"val": (annotation file, image folder)}, the synthetic shapes
    generated first when no folder is given."""
    if coco_dir is None:
        from spinenet_tf.data import synthetic

        coco_dir = os.path.join(output_dir, f"synthetic_{recipe['image_size']}"
                                f"_min{recipe['synthetic_min_side']}")
        if not os.path.exists(os.path.join(coco_dir, "val", "annotations.json")):
            synthetic.generate(coco_dir, 800, 100, image_size=recipe["image_size"],
                               min_side=recipe["synthetic_min_side"])
    folders = {split: (os.path.join(coco_dir, split, "annotations.json"),
                       os.path.join(coco_dir, split, "images")) for split in ("train", "val")}
    for split, (annotations, images) in folders.items():
        if not os.path.isfile(annotations) or not os.path.isdir(images):
            raise app.UsageError(f"--coco_dir {coco_dir!r} has no {split}/annotations.json "
                                 f"and {split}/images.")
    return folders


def num_classes_of(annotation_file):
    with open(annotation_file) as f:
        return max(c["id"] for c in json.load(f)["categories"]) + 1


BASE_CONFIG = "retinanet_spinenet_mobile49s_coco"


def yaml_number(value):
    """A float as plain decimals: YAML 1.1 readers (PyYAML, which older
    commits use without the project's reader) take `3e-05` for a string."""
    text = f"{value:.12f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def our_overrides(recipe, folders, num_classes, steps, seed):
    """The recipe as `spinenet-train --set` values on `BASE_CONFIG` (keys
    that every commit since the first training-outcome figures reads alike,
    so that `--ours_at` can give them to an older train.py)."""
    boundaries, values = schedule(recipe, steps)
    size = recipe["image_size"]
    overrides = [
        f"model.backbone={recipe['backbone']}", f"model.image_size=[{size},{size}]",
        f"model.num_classes={num_classes}", f"model.activation={recipe['activation']}",
        f"model.head_num_convs={recipe['head_num_convs']}",
        f"model.head_num_filters={recipe['head_num_filters']}",
        f"model.use_separable_conv={str(recipe['use_separable_conv']).lower()}",
        f"model.init_stochastic_depth_rate={recipe['stochastic_depth'] or 0.0}",
        f"model.anchor_size={recipe['anchor_size']}", "model.use_sync_bn=false",
        "train_data.source=coco", f"train_data.annotations={folders['train'][0]}",
        f"train_data.image_dir={folders['train'][1]}",
        f"train_data.batch_size={recipe['batch_size']}",
        f"train_data.aug_scale_min={recipe['aug_scale'][0]}",
        f"train_data.aug_scale_max={recipe['aug_scale'][1]}",
        "eval_data.source=coco", f"eval_data.annotations={folders['val'][0]}",
        f"eval_data.image_dir={folders['val'][1]}",
        f"losses.l2_weight_decay={yaml_number(recipe['l2_weight_decay'])}",
        f"optimizer.type={recipe['optimizer']}", f"optimizer.boundaries={boundaries}",
        f"optimizer.values=[{', '.join(yaml_number(v) for v in values)}]",
        f"optimizer.warmup_steps={recipe['warmup_steps']}",
        f"optimizer.warmup_learning_rate={yaml_number(recipe['warmup_learning_rate'])}",
        f"optimizer.global_clipnorm={recipe['global_clipnorm'] or 'null'}",
        f"trainer.train_steps={steps}", f"trainer.checkpoint_every={steps}",
        "trainer.eval_every=0", f"trainer.seed={seed}", "trainer.mixed_precision=null",
    ] + ([f"optimizer.momentum={recipe['momentum']}"] if "momentum" in recipe else [])
    return overrides


def our_config(recipe, folders, num_classes, steps, seed):
    """The spinenet_tf config of the recipe (what `spinenet-train --set`
    would give)."""
    from spinenet_tf.config import load_config

    return load_config(BASE_CONFIG, our_overrides(recipe, folders, num_classes, steps, seed))


def train_ours(recipe, folders, num_classes, steps, seed, run_dir):
    """AP / AP50 of our Trainer's run (its own end-of-run evaluation)."""
    import tensorflow as tf

    from spinenet_tf.training.trainer import Trainer

    config = our_config(recipe, folders, num_classes, steps, seed)
    trainer = Trainer(config, run_dir, tf.distribute.OneDeviceStrategy("/cpu:0"))
    results = trainer.run()
    return {"AP": results["AP"], "AP50": results["AP50"]}


def worktree_of(commit, output_dir):
    """A checkout of `commit` of this repository (a git worktree under
    output_dir, made once) and the commit's full hash."""
    repository = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        full = subprocess.run(["git", "-C", repository, "rev-parse", "--verify",
                               commit + "^{commit}"], check=True, capture_output=True,
                              text=True).stdout.strip()
    except subprocess.CalledProcessError as error:
        raise app.UsageError(f"--ours_at: {commit!r} is not a commit of {repository}: "
                             f"{error.stderr.strip()}") from error
    path = os.path.join(output_dir, "worktrees", full[:12])
    if not os.path.exists(os.path.join(path, "train.py")):
        subprocess.run(["git", "-C", repository, "worktree", "add", "--detach", "--force",
                        path, full], check=True, capture_output=True)
    return path, full


def train_ours_at(commit, recipe, folders, num_classes, steps, seed, run_dir, output_dir):
    """AP / AP50 of the run of `commit`'s own train.py (its package, input
    pipeline, trainer and evaluation) on the recipe: the bisection of a
    training outcome over the project's history."""
    metrics_file = os.path.join(run_dir, "metrics.json")
    if not os.path.exists(metrics_file):  # a finished run is read, not trained again
        _run_train_py(commit, recipe, folders, num_classes, steps, seed, run_dir, output_dir)
    with open(metrics_file) as f:
        metrics = json.load(f)
    return {"AP": metrics["AP"], "AP50": metrics["AP50"]}


def _run_train_py(commit, recipe, folders, num_classes, steps, seed, run_dir, output_dir):
    path, _ = worktree_of(commit, output_dir)
    command = [sys.executable, "train.py", "--config", f"configs/{BASE_CONFIG}.yaml",
               "--model_dir", run_dir]
    for override in our_overrides(recipe, folders, num_classes, steps, seed):
        command += ["--set", override]
    environment = dict(os.environ, PYTHONPATH=path)
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, "train_output.txt"), "w") as log:
        finished = subprocess.run(command, cwd=path, env=environment, stdout=log,
                                  stderr=subprocess.STDOUT)
    if finished.returncode:
        raise RuntimeError(f"train.py of {commit} exited with {finished.returncode}; "
                           f"its output: {os.path.join(run_dir, 'train_output.txt')}")


def reference_experiment(recipe, tfrecord_pattern, num_classes, steps, seed):
    """tf-models-official's experiment config with the recipe's values."""
    from official.vision.configs import retinanet as retinanet_cfg

    experiment = retinanet_cfg.retinanet_spinenet_mobile_coco()
    task = experiment.task
    model = task.model
    model.backbone.spinenet_mobile.model_id = recipe["backbone"].split("-")[-1].upper()
    model.backbone.spinenet_mobile.stochastic_depth_drop_rate = recipe["stochastic_depth"] or 0.0
    model.input_size = [recipe["image_size"], recipe["image_size"], 3]
    model.num_classes = num_classes
    model.norm_activation.activation = recipe["activation"]
    model.norm_activation.use_sync_bn = False
    model.head.num_convs = recipe["head_num_convs"]
    model.head.num_filters = recipe["head_num_filters"]
    model.head.use_separable_conv = recipe["use_separable_conv"]
    model.anchor.anchor_size = recipe["anchor_size"]
    task.losses.l2_weight_decay = recipe["l2_weight_decay"]
    task.init_checkpoint = None
    data = task.train_data
    data.input_path = tfrecord_pattern
    data.global_batch_size = recipe["batch_size"]
    data.seed = seed
    data.parser.aug_scale_min, data.parser.aug_scale_max = recipe["aug_scale"]
    data.parser.aug_rand_hflip = True
    optimizer = experiment.trainer.optimizer_config
    optimizer.optimizer.type = recipe["optimizer"]
    getattr(optimizer.optimizer, recipe["optimizer"]).global_clipnorm = recipe["global_clipnorm"]
    boundaries, values = schedule(recipe, steps)
    optimizer.learning_rate.stepwise.boundaries = boundaries
    optimizer.learning_rate.stepwise.values = values
    optimizer.warmup.linear.warmup_steps = recipe["warmup_steps"]
    optimizer.warmup.linear.warmup_learning_rate = recipe["warmup_learning_rate"]
    return experiment


def train_reference(recipe, tfrecord_pattern, num_classes, steps, seed, progress_every=100):
    """The trained tf-models-official RetinaNet."""
    import tensorflow as tf
    import tf_keras
    from official.modeling import optimization
    from official.vision.tasks import retinanet as retinanet_task

    experiment = reference_experiment(recipe, tfrecord_pattern, num_classes, steps, seed)
    tf_keras.utils.set_random_seed(seed)
    task = retinanet_task.RetinaNetTask(experiment.task)
    model = task.build_model()
    factory = optimization.OptimizerFactory(experiment.trainer.optimizer_config)
    optimizer = factory.build_optimizer(factory.build_learning_rate())
    metrics = task.build_metrics(training=True)
    dataset = task.build_inputs(experiment.task.train_data)
    step_function = tf.function(lambda batch: task.train_step(batch, model, optimizer, metrics))
    started = time.time()
    for step, batch in zip(range(1, steps + 1), dataset):
        logs = step_function(batch)
        if step % progress_every == 0 or step == steps:
            print(f"  reference step {step}/{steps}: loss {float(logs['loss']):.4f} "
                  f"({(time.time() - started) / step:.2f} s a step)", flush=True)
    return model


def reference_detect(reference):
    """A detect function (`spinenet_tf.evaluation`) of the reference model:
    its own detection generator, boxes mapped to the original pixels."""
    import numpy as np
    import tensorflow as tf

    from spinenet_tf.ops.box_ops import boxes_to_original

    infer = tf.function(lambda images, shape: reference(images, image_shape=shape,
                                                        training=False))

    def run(images, image_info):
        outputs = infer(images, tf.convert_to_tensor(image_info)[:, 1, :])
        counts = np.asarray(outputs["num_detections"])
        boxes = np.asarray(boxes_to_original(outputs["detection_boxes"], image_info))
        valid = np.arange(boxes.shape[1])[None] < counts[:, None]
        return {"detection_boxes": np.where(valid[..., None], boxes, 0.0),
                "detection_scores": np.asarray(outputs["detection_scores"]),
                "detection_classes": np.asarray(outputs["detection_classes"]),
                "num_detections": counts}

    return run


def evaluate_reference(reference, recipe, folders, num_classes, steps):
    """COCO AP of the reference on our evaluation data (same images and
    geometry as ours)."""
    from spinenet_tf.models.base import task_for_config

    config = our_config(recipe, folders, num_classes, steps, 0)
    task = task_for_config(config)
    evaluation = task.evaluation_data(task.build_model())
    metrics = evaluation.evaluate(reference_detect(reference), progress=False)
    return {"AP": metrics["AP"], "AP50": metrics["AP50"]}


def tfrecords_of(folders, output_dir):
    """The training split as TFRecords in Model Garden's schema (once for
    each training folder)."""
    import hashlib

    from spinenet_tf.data.coco import load_coco
    from spinenet_tf.data.tfrecords import write_tfrecords

    folder = os.path.dirname(os.path.abspath(folders["train"][0]))
    key = hashlib.sha1(folder.encode()).hexdigest()[:10]
    prefix = os.path.join(output_dir, "tfrecords", f"train_{key}")
    pattern = prefix + "-*.tfrecord"
    if not os.path.exists(prefix + "-00000-of-00001.tfrecord"):
        write_tfrecords(load_coco(*folders["train"]), prefix)
    return pattern


def write_json(path, recipe_name, steps, results):
    from spinenet_tf.utils.hardware import hardware_line

    with open(path, "w") as f:
        json.dump({"machine": hardware_line(), "recipe": recipe_name, "steps": steps,
                   "runs": results, "summary": summarise(results)}, f, indent=2)


def summarise(results):
    """Mean, spread and the ratio of means, per metric (sides with runs)."""
    summary = {}
    for side, runs in results.items():
        if not runs:
            continue
        summary[side] = {metric: {"mean": statistics.mean(r[metric] for r in runs),
                                  "spread": max(r[metric] for r in runs)
                                  - min(r[metric] for r in runs)}
                         for metric in ("AP", "AP50")}
    if {"ours", "reference"} <= set(summary):
        summary["ours_over_reference"] = {
            metric: summary["ours"][metric]["mean"] / summary["reference"][metric]["mean"]
            if summary["reference"][metric]["mean"] else float("nan")
            for metric in ("AP", "AP50")}
    return summary


def define_flags():
    """The command line (defined only when run as a script, so that importing
    the module beside other absl programs, as the tests do, defines no flag)."""
    flags.DEFINE_string(
        "coco_dir", None, "COCO-format data (train/, val/); default: the synthetic shapes, "
        "generated into --output_dir.")
    flags.DEFINE_enum("recipe", "sgd", sorted(RECIPES), "The training recipe.")
    flags.DEFINE_multi_string(
        "set", [], "A recipe value, key=value (a Python literal), e.g. --set "
        "learning_rate=0.02 --set 'aug_scale=(0.8, 1.25)'; repeatable.")
    flags.DEFINE_integer("seeds", 3, "Seeds per side (--first_seed, the next, ...).")
    flags.DEFINE_integer("first_seed", 0, "The first seed: a benchmark run in parts (seed 0 "
                         "one day, 1 and 2 the next) adds up to the same runs.")
    flags.DEFINE_integer("steps", None, "Training steps (default: the recipe's); the "
                         "learning-rate boundaries scale with it.")
    flags.DEFINE_list("sides", ["ours", "reference"], "ours and/or reference.")
    flags.DEFINE_list(
        "ours_at", [], "Also train these commits of this repository (each with its own "
        "train.py, in a git worktree under --output_dir) on the recipe: the bisection of a "
        "training outcome. Sides named ours@COMMIT.")
    flags.DEFINE_string("output_dir", "outputs/training_outcome",
                        "Runs, data and TFRecords.")
    flags.DEFINE_string("json", None, "Also write the results here.")


def main(argv):
    del argv
    from spinenet_tf.utils.hardware import hardware_line

    for side in FLAGS.sides:
        if side not in ("ours", "reference"):
            raise app.UsageError(f"--sides takes ours and/or reference; received {side!r}.")
    if FLAGS.seeds < 1:
        raise app.UsageError(f"--seeds must be >= 1; received {FLAGS.seeds}.")
    if FLAGS.first_seed < 0:
        raise app.UsageError(f"--first_seed must be >= 0; received {FLAGS.first_seed}.")
    if "reference" in FLAGS.sides:
        from spinenet_tf.backbones.model_garden_twin import require_model_garden

        require_model_garden()
    print(hardware_line(), flush=True)  # CPU model, cores, cpu_flags (AVX-512, AMX)
    recipe = recipe_with(RECIPES[FLAGS.recipe], FLAGS.set)
    steps = FLAGS.steps or recipe["steps"]
    output_dir = os.path.abspath(FLAGS.output_dir)
    folders = data_folders(FLAGS.coco_dir, output_dir, recipe)
    num_classes = num_classes_of(folders["train"][0])
    settings = f" with {', '.join(FLAGS.set)}" if FLAGS.set else ""
    print(f"Recipe {FLAGS.recipe}{settings}: RetinaNet {recipe['backbone']} "
          f"@{recipe['image_size']}, batch {recipe['batch_size']}, {steps} "
          f"{recipe['optimizer']} steps, schedule {schedule(recipe, steps)} after "
          f"{recipe['warmup_steps']} warm-up steps, clipnorm {recipe['global_clipnorm']}, "
          f"scale jitter {recipe['aug_scale']}, stochastic depth {recipe['stochastic_depth']}; "
          f"{num_classes} classes; data {os.path.dirname(folders['train'][0])}", flush=True)
    name = run_name(FLAGS.recipe, FLAGS.set)
    sides = list(FLAGS.sides) + [f"ours@{commit}" for commit in FLAGS.ours_at]
    for commit in FLAGS.ours_at:
        worktree_of(commit, output_dir)  # a bad commit fails before any training
    results = {side: [] for side in sides}
    for seed in range(FLAGS.first_seed, FLAGS.first_seed + FLAGS.seeds):
        for side in sides:
            started = time.time()
            print(f"{side}, seed {seed} ...", flush=True)
            if side.startswith("ours@"):
                commit = side[len("ours@"):]
                full = worktree_of(commit, output_dir)[1]
                run_dir = os.path.join(output_dir,
                                       f"ours_at_{full[:12]}_{name}_{steps}_steps_seed{seed}")
                metrics = train_ours_at(commit, recipe, folders, num_classes, steps, seed,
                                        run_dir, output_dir)
            elif side == "ours":
                run_dir = os.path.join(output_dir, f"ours_{name}_{steps}_steps_seed{seed}")
                metrics = train_ours(recipe, folders, num_classes, steps, seed, run_dir)
            else:
                reference = train_reference(recipe, tfrecords_of(folders, output_dir),
                                            num_classes, steps, seed)
                metrics = evaluate_reference(reference, recipe, folders, num_classes, steps)
            metrics.update(seed=seed, minutes=(time.time() - started) / 60)
            results[side].append(metrics)
            print(f"{side}, seed {seed}: AP {metrics['AP']:.3f}, AP50 {metrics['AP50']:.3f} "
                  f"({metrics['minutes']:.1f} min)", flush=True)
            if FLAGS.json:  # after every run: a long benchmark keeps what it measured
                write_json(FLAGS.json, recipe_name=name, steps=steps, results=results)
    summary = summarise(results)
    print(f"\n{hardware_line()}\nRecipe {name}, {steps} steps, "
          f"{FLAGS.seeds} seed(s) a side:")
    for side in sides:
        runs = ", ".join(f"{r['AP']:.3f}/{r['AP50']:.3f}" for r in results[side])
        print(f"  {side:<10} AP/AP50 per seed {runs}; mean AP {summary[side]['AP']['mean']:.3f} "
              f"(spread {summary[side]['AP']['spread']:.3f}), mean AP50 "
              f"{summary[side]['AP50']['mean']:.3f} (spread {summary[side]['AP50']['spread']:.3f})")
    if "ours_over_reference" in summary:
        ratio = summary["ours_over_reference"]
        print(f"  ours / reference: mean AP {ratio['AP']:.3f}, mean AP50 {ratio['AP50']:.3f}")


if __name__ == "__main__":
    define_flags()
    app.run(main)
