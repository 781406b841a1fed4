"""Training and evaluation of an experiment: the engine behind `train.py`.

Training is Keras `fit` under the strategy's scope. A Keras "epoch" here is
`trainer.checkpoint_every` steps over an endless input stream; at the end of
each one a checkpoint is written (model, optimizer, step, random-generator
states), and every `trainer.eval_every` steps the model is evaluated. A run
restarted in the same `model_dir` restores the latest checkpoint and resumes
the input stream at that step, so with `trainer.deterministic` the result
is bit-identical to an uninterrupted run.

`model_dir` receives: `checkpoints/`, `logs/` (TensorBoard: losses,
learning rate, AP), `training_log.json`, `metrics.json`, `config.yaml`,
`model.keras`, `curves.png` and (detection) `detections.png`.
"""

import json
import os
import time

import keras
import numpy as np
import tensorflow as tf
import yaml
from absl import logging

from spinenet_tf.training import builders, coco_evaluation, visualization
from spinenet_tf.training.config import config_to_dict
from spinenet_tf.training.keras_multi_worker import multi_worker_fit


def _is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    cluster = resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in cluster


def training_checkpoint(model, optimizer):
    """A tf.train.Checkpoint of every model variable and the optimizer.

    `tf.train.Checkpoint(model=model)` is not enough under Keras 3: it only
    follows layers held directly in attributes, not in lists or dicts (e.g.
    the head's per-level batch norms), nor random-generator states. Keras'
    own variable list covers everything; its order is fixed by the
    architecture (names of random-generator states are not: they are
    numbered per process, so variables are keyed by position).
    """
    return tf.train.Checkpoint(model_variables=list(model.variables),
                               optimizer=optimizer)


def build_compiled_model(config):
    """The model and optimizer of `config`, compiled and built as `fit` needs
    them (so a training checkpoint restores into them)."""
    model = builders.build_model(config)
    optimizer = builders.build_optimizer(config)
    jit_compile = config.trainer.jit_compile
    if config.model.type == "classifier":
        model.compile(optimizer=optimizer, jit_compile=jit_compile, metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="top1"),
            keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5")])
    else:
        model.compile(optimizer=optimizer, jit_compile=jit_compile)
    optimizer.build(model.trainable_variables)
    return model, optimizer


def restore_trained_model(model_dir, checkpoint=None):
    """The model of a `train.py` run at its latest (or the given) checkpoint.

    Returns (model, config, checkpoint path). Reads `model_dir/config.yaml`.
    """
    from spinenet_tf.training.config import load_config

    config_path = os.path.join(model_dir, "config.yaml")
    if not os.path.exists(config_path):
        raise FileNotFoundError(
            f"{config_path} not found: {model_dir!r} is not a train.py model dir.")
    config = load_config(config_path)
    checkpoint = checkpoint or tf.train.latest_checkpoint(
        os.path.join(model_dir, "checkpoints"))
    if not checkpoint:
        raise FileNotFoundError(f"No checkpoint in {os.path.join(model_dir, 'checkpoints')}.")
    model, optimizer = build_compiled_model(config)
    training_checkpoint(model, optimizer).restore(checkpoint).assert_consumed()
    return model, config, checkpoint


class Trainer:
    """Runs one experiment in `model_dir` (see the module docstring)."""

    def __init__(self, config, model_dir, strategy, verbose=1):
        self.config = config
        self.model_dir = model_dir
        self.strategy = strategy
        self.verbose = verbose
        self.is_chief = _is_chief(strategy)
        resolver = getattr(strategy, "cluster_resolver", None)
        self.write_dir = model_dir if self.is_chief else os.path.join(
            model_dir, "workers", f"{resolver.task_type}_{resolver.task_id}")
        os.makedirs(self.write_dir, exist_ok=True)
        self.log_path = os.path.join(self.write_dir, "training_log.json")

    # --- setup ---------------------------------------------------------

    def _setup(self):
        config, trainer = self.config, self.config.trainer
        # TensorFlow's checkpointing logs an INFO line per save into the
        # progress bars; warnings (e.g. skipped images) still show.
        logging.set_verbosity(logging.WARNING)
        keras.utils.set_random_seed(trainer.seed)
        if trainer.deterministic:
            tf.config.experimental.enable_op_determinism()
        if trainer.mixed_precision:
            keras.mixed_precision.set_global_policy(f"mixed_{trainer.mixed_precision}")
        with self.strategy.scope():
            self.model, self.optimizer = build_compiled_model(config)
        self.checkpoint = training_checkpoint(self.model, self.optimizer)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, os.path.join(self.write_dir, "checkpoints"),
            max_to_keep=trainer.max_checkpoints)
        latest = tf.train.latest_checkpoint(os.path.join(self.model_dir, "checkpoints"))
        if latest:
            self.checkpoint.restore(latest).assert_consumed()
            print(f"Resumed from {latest}", flush=True)
        self.initial_step = int(self.optimizer.iterations.numpy())
        if self.initial_step % trainer.checkpoint_every:
            raise ValueError(
                f"Checkpoint step {self.initial_step} is not a multiple of "
                f"trainer.checkpoint_every={trainer.checkpoint_every}; resume with "
                "the checkpoint_every it was written with.")
        if self.is_chief:
            with open(os.path.join(self.model_dir, "config.yaml"), "w") as f:
                yaml.safe_dump(config_to_dict(config), f, sort_keys=False)

    # --- data ----------------------------------------------------------

    def _detection_input(self, data, training):
        from spinenet_tf.data.detection_input import DetectionInput

        examples, coco, are_paths = builders.detection_examples(data)
        parser = DetectionInput(
            self.config.model.image_size, training, max_boxes=data.max_boxes,
            aug_rand_hflip=data.aug_rand_hflip, aug_scale_min=data.aug_scale_min,
            aug_scale_max=data.aug_scale_max, seed=self.config.trainer.seed,
            strict=data.strict, sources_are_paths=are_paths,
            shuffle_buffer=data.shuffle_buffer)
        return examples, coco, parser

    def _train_dataset(self):
        data = self.config.train_data
        if self.config.model.type == "classifier":
            return self._classification_dataset(data, training=True)
        examples, _, parser = self._detection_input(data, training=True)
        self.train_parser = parser
        anchors = self.model.anchor_generator.flat_anchors(*self.config.model.image_size)
        global_batch = data.batch_size

        def dataset_fn(context):
            return parser(examples, context.get_per_replica_batch_size(global_batch),
                          initial_step=self.initial_step, input_context=context,
                          anchor_labeler=self.model.anchor_labeler, anchors=anchors)

        return self.strategy.distribute_datasets_from_function(dataset_fn)

    def _classification_dataset(self, data, training):
        from spinenet_tf.data.preprocessing import normalize_image
        from spinenet_tf.data.training_stream import endless_shuffled

        if data.source != "image_folder":
            raise ValueError("Classification data must be an 'image_folder'; "
                             f"received {data.source!r}.")
        height, width = self.config.model.image_size
        # Keras lists the folder (one sub-folder per class, sorted); files
        # are read here so the training stream can be resumed exactly.
        listing = keras.utils.image_dataset_from_directory(
            data.image_dir, batch_size=None, shuffle=False, label_mode="int",
            verbose=False)
        class_ids = {name: i for i, name in enumerate(listing.class_names)}
        labels = [class_ids[os.path.relpath(path, data.image_dir).split(os.sep)[0]]
                  for path in listing.file_paths]
        dataset = tf.data.Dataset.from_tensor_slices((listing.file_paths, labels))
        seed = self.config.trainer.seed
        if training:
            dataset = endless_shuffled(dataset, data.shuffle_buffer, seed,
                                       skip=self.initial_step * data.batch_size)
        else:
            dataset = dataset.enumerate()

        def load(index, example):
            path, label = example
            image = tf.io.decode_image(tf.io.read_file(path), channels=3,
                                       expand_animations=False)
            image = tf.image.resize(image, (height, width))
            image = normalize_image(image / 255.0)
            if training and data.aug_rand_hflip:
                flip = tf.random.stateless_uniform(
                    [], tf.stack([tf.constant(seed, tf.int64), index])) > 0.5
                image = tf.cond(flip, lambda: tf.image.flip_left_right(image),
                                lambda: image)
            return image, label

        dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE)
        return dataset.batch(data.batch_size, drop_remainder=training).prefetch(
            tf.data.AUTOTUNE)

    # --- evaluation ----------------------------------------------------

    def evaluate(self, step):
        """Evaluates on `eval_data`; returns and logs the metrics."""
        data, trainer = self.config.eval_data, self.config.trainer
        started = time.time()
        if self.config.model.type == "classifier":
            dataset = self._classification_dataset(data, training=False)
            result = self.model.evaluate(dataset, verbose=0, return_dict=True)
            metrics = {"top1": result["top1"], "top5": result["top5"]}
        else:
            examples, coco, parser = self._detection_input(data, training=False)
            dataset = parser(examples, data.batch_size)
            total = coco.num_images if coco else None
            if trainer.eval_max_images:
                total = min(total or trainer.eval_max_images, trainer.eval_max_images)
            detections, ground_truth, image_ids = coco_evaluation.collect_detections(
                self.model, dataset, max_images=trainer.eval_max_images,
                total=total, progress=self.verbose > 0)
            categories = coco.categories if coco else sorted(
                ({"id": a["category_id"]} for a in ground_truth),
                key=lambda c: c["id"])
            categories = list({c["id"]: c for c in categories}.values())
            metrics = coco_evaluation.coco_metrics(
                detections, image_ids, categories,
                annotation_file=coco.annotation_file if coco else None,
                ground_truth=ground_truth)
            metrics["evaluated_images"] = len(image_ids)
            if parser.log.count:
                metrics["skipped_images"] = [n for n, _ in parser.log.failures]
        metrics["step"] = step
        metrics["seconds"] = round(time.time() - started, 1)
        with tf.summary.create_file_writer(
                os.path.join(self.write_dir, "logs", "eval")).as_default():
            for key, value in metrics.items():
                if isinstance(value, float):
                    tf.summary.scalar(key, value, step=step)
        headline = {k: round(v, 4) for k, v in metrics.items()
                    if k in ("AP", "AP50", "AP75", "top1", "top5")}
        if self.is_chief:
            print(f"evaluation at step {step}: {headline}", flush=True)
        return metrics

    # --- the run -------------------------------------------------------

    def _read_log(self):
        if os.path.exists(self.log_path):
            with open(self.log_path) as f:
                return json.load(f)
        return []

    def run(self):
        """Trains to `trainer.train_steps`, evaluates, writes the results."""
        self._setup()
        if isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            with multi_worker_fit(self.model):
                return self._run()
        return self._run()

    def _run(self):
        trainer = self.config.trainer
        per_epoch = trainer.checkpoint_every
        epochs = trainer.train_steps // per_epoch
        initial_epoch = self.initial_step // per_epoch
        log = [e for e in self._read_log() if e["step"] <= self.initial_step]
        evaluation = {}

        outer = self
        learning_rate_writer = tf.summary.create_file_writer(
            os.path.join(self.write_dir, "logs", "learning_rate"))

        class Checkpointing(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                step = (epoch + 1) * per_epoch
                outer.manager.save(checkpoint_number=step)
                entry = {"step": step, **{k: float(v) for k, v in (logs or {}).items()}}
                entry["learning_rate"] = float(
                    outer.optimizer.learning_rate.numpy()
                    if hasattr(outer.optimizer.learning_rate, "numpy")
                    else outer.optimizer.learning_rate)
                # Every worker evaluates: under MultiWorkerMirroredStrategy
                # reading variables outside a replica is a collective.
                if trainer.eval_every and step % trainer.eval_every == 0:
                    evaluation.update(outer.evaluate(step))
                    entry.update({k: v for k, v in evaluation.items()
                                  if isinstance(v, float)})
                log.append(entry)
                with learning_rate_writer.as_default():
                    tf.summary.scalar("learning_rate", entry["learning_rate"], step=step)
                with open(outer.log_path, "w") as f:
                    json.dump(log, f, indent=1)

        callbacks = [Checkpointing(), keras.callbacks.TensorBoard(
            os.path.join(self.write_dir, "logs"), update_freq="epoch")]
        if initial_epoch < epochs:
            self.model.fit(self._train_dataset(), epochs=epochs,
                           steps_per_epoch=per_epoch, initial_epoch=initial_epoch,
                           callbacks=callbacks, verbose=self.verbose, shuffle=False)
        final_step = int(self.optimizer.iterations.numpy())
        results = {"step": final_step}
        # All workers run the same steps (reads of mirrored variables are
        # collectives under MultiWorkerMirroredStrategy); non-chief workers
        # write into their own folder.
        if evaluation.get("step") != final_step:
            evaluation = self.evaluate(final_step)
        results.update(evaluation)
        with open(os.path.join(self.write_dir, "metrics.json"), "w") as f:
            json.dump(results, f, indent=2)
        self.model.save(os.path.join(self.write_dir, "model.keras"))
        visualization.plot_training_curves(
            self._read_log(), os.path.join(self.write_dir, "curves.png"))
        if self.config.model.type == "retinanet":
            self._draw_validation_detections()
        self.model.save_weights(os.path.join(self.write_dir, "final.weights.h5"))
        return results

    def _draw_validation_detections(self, count=8):
        examples, coco, parser = self._detection_input(self.config.eval_data, False)
        images, _, _ = next(iter(parser(examples.take(count), count)))
        detections = {k: v.numpy() for k, v in
                      coco_evaluation.detect_function(self.model)(images).items()}
        from spinenet_tf.data.preprocessing import MEAN_RGB, STDDEV_RGB

        pixels = np.clip((images.numpy() * STDDEV_RGB + MEAN_RGB) * 255, 0, 255)
        names = {c["id"]: c["name"] for c in coco.categories} if coco else None
        visualization.draw_detections(pixels.astype("uint8"), detections,
                                      os.path.join(self.write_dir, "detections.png"),
                                      names)
