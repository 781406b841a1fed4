"""Training and evaluation of an experiment: the engine behind `train.py`.

Training is Keras `fit` under the strategy's scope; everything that depends
on the job (model, inputs, evaluation, pictures) comes from the experiment's
task (`spinenet_tf.models.base.Task`, found through the registry). A Keras "epoch" here is
`trainer.checkpoint_every` steps over an endless input stream; at the end of
each one a checkpoint is written (model and optimizer variables keyed by
path, random-generator states included), and every `trainer.eval_every`
steps the model is evaluated. A run restarted in the same `model_dir`
restores the latest checkpoint and resumes the input stream at that step,
so with `trainer.deterministic` the result is bit-identical to an
uninterrupted run.

`model_dir` receives: `model.keras` (written at the start, so the folder
always says what it trains, and again at the end), `config.yaml`,
`checkpoints/`, `logs/` (TensorBoard: losses, learning rate, metrics),
`training_log.json`, `metrics.json`, `curves.png` and
what the task draws (detection: `detections.png`). Export reads
`model.keras` and the checkpoints (`spinenet_tf.training.checkpoints.load_model_dir`).
"""

import json
import os
import time

import keras
import tensorflow as tf
from absl import logging

from spinenet_tf.compat.keras_multi_worker import multi_worker_fit
from spinenet_tf.config import config_yaml
from spinenet_tf.evaluation import visualization
from spinenet_tf.models.base.task import task_for_config
from spinenet_tf.training import checkpoints
from spinenet_tf.training.model_building import build_training_model
from spinenet_tf.training.optimizer import build_optimizer
from spinenet_tf.utils.atomic_files import save_keras_model, write_bytes
from spinenet_tf.utils.hardware import auto_mixed_precision
from spinenet_tf.utils.progress import fit_verbosity
from spinenet_tf.utils.run_lock import RunLock


def _is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    cluster = resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in cluster


def build_compiled_model(config, task=None, initialize=True):
    """The model and optimizer of `config`, compiled and built as `fit` needs
    them (so a training checkpoint restores into both); `initialize`: start
    from `model.init_from` (not when a checkpoint will be restored)."""
    task = task or task_for_config(config)
    model = build_training_model(config, task, initialize)
    optimizer = build_optimizer(config)
    task.compile_model(model, optimizer)
    optimizer.build(model.trainable_variables)
    return model, optimizer


class Trainer:
    """Runs one experiment in `model_dir` (see the module docstring)."""

    def __init__(self, config, model_dir, strategy, verbose=None):
        self.config = config
        self.task = task_for_config(config)
        self.model_dir = model_dir
        self.strategy = strategy
        # Keras' live bar on a terminal, a plain line an epoch otherwise.
        self.verbose = fit_verbosity(verbose)
        self.is_chief = _is_chief(strategy)
        resolver = getattr(strategy, "cluster_resolver", None)
        self.write_dir = model_dir if self.is_chief else os.path.join(
            model_dir, "workers", f"{resolver.task_type}_{resolver.task_id}")
        os.makedirs(self.write_dir, exist_ok=True)
        self.log_path = os.path.join(self.write_dir, "training_log.json")

    # --- setup ---------------------------------------------------------

    def _setup(self):
        config, trainer = self.config, self.config.trainer
        self.task.check_data()  # bad data fails here, before anything is built
        # TensorFlow's checkpointing logs an INFO line per save into the
        # progress bars; warnings (e.g. skipped images) still show.
        logging.set_verbosity(logging.WARNING)
        keras.utils.set_random_seed(trainer.seed)
        if trainer.deterministic:
            tf.config.experimental.enable_op_determinism()
        self.precision = (auto_mixed_precision(config.model.backbone)
                          if trainer.mixed_precision == "auto" else trainer.mixed_precision)
        if config.model.trains_quantization_aware():  # fake quantization is float32
            self.precision = None
        keras.mixed_precision.set_global_policy(
            f"mixed_{self.precision}" if self.precision else "float32")
        with self.strategy.scope():
            self.model, self.optimizer = build_compiled_model(
                config, self.task, initialize=not self._has_checkpoint())
        self._resume()
        self.writer = checkpoints.CheckpointWriter(
            checkpoints.training_checkpoint(self.model, self.optimizer),
            os.path.join(self.write_dir, checkpoints.CHECKPOINT_DIR),
            max_to_keep=trainer.max_checkpoints)
        self.initial_step = int(self.optimizer.iterations.numpy())
        if self.initial_step % trainer.checkpoint_every:
            raise ValueError(
                f"Checkpoint step {self.initial_step} is not a multiple of "
                f"trainer.checkpoint_every={trainer.checkpoint_every}; resume with "
                "the checkpoint_every it was written with.")
        write_bytes(os.path.join(self.write_dir, checkpoints.CONFIG_FILE),
                    config_yaml(config).encode())
        save_keras_model(self.model, os.path.join(self.write_dir, checkpoints.MODEL_FILE))

    def _has_checkpoint(self):
        """Whether `model_dir` holds a checkpoint a run would resume from."""
        return bool(checkpoints.listed_checkpoints(
            os.path.join(self.model_dir, checkpoints.CHECKPOINT_DIR)))

    def _resume(self):
        """Restores the newest checkpoint of `model_dir` that reads whole;
        newer ones that do not are named, and (by the chief) set aside as
        `*.unreadable`, never silently passed over."""
        folder = os.path.join(self.model_dir, checkpoints.CHECKPOINT_DIR)
        latest, skipped = checkpoints.find_restorable_checkpoint(folder)
        for path, reason in skipped:
            print(f"Skipped checkpoint {path}: {reason}", flush=True)
            if self.is_chief:
                checkpoints.set_aside(path)
        if skipped and self.is_chief:
            kept = [p for p in reversed(checkpoints.listed_checkpoints(folder))]
            tf.compat.v1.train.update_checkpoint_state(
                folder, kept[-1], all_model_checkpoint_paths=kept)
        if latest:
            # find_restorable_checkpoint has read it whole already.
            checkpoints.restore_checkpoint(latest, self.model, self.optimizer, verify=False)
            print(f"Resumed from {latest}"
                  + (f" (the newest that reads; {len(skipped)} newer set aside as "
                     "*.unreadable)" if skipped else ""), flush=True)

    # --- data ----------------------------------------------------------

    def _train_dataset(self):
        def dataset_fn(context):
            return self.task.train_dataset(self.model, self.initial_step, context)

        return self.strategy.distribute_datasets_from_function(dataset_fn)

    # --- evaluation ----------------------------------------------------

    def evaluate(self, step):
        """Evaluates on `eval_data`; returns and logs the metrics."""
        started = time.time()
        metrics = self.task.evaluate(self.model, progress=self.verbose > 0)
        metrics["step"] = step
        metrics["seconds"] = round(time.time() - started, 1)
        with tf.summary.create_file_writer(
                os.path.join(self.write_dir, "logs", "eval")).as_default():
            for key, value in metrics.items():
                if isinstance(value, float):
                    tf.summary.scalar(key, value, step=step)
        headline = {k: round(metrics[k], 4) for k in self.task.metric_names if k in metrics}
        if self.is_chief:
            print(f"evaluation at step {step}: {headline}", flush=True)
        return metrics

    # --- the run -------------------------------------------------------

    def _write_log(self, log):
        write_bytes(self.log_path, json.dumps(log, indent=1).encode())

    def _read_log(self):
        if os.path.exists(self.log_path):
            with open(self.log_path) as f:
                return json.load(f)
        return []

    def run(self):
        """Trains to `trainer.train_steps`, evaluates, writes the results.
        Holds the folder's run lock throughout: a second run into it stops
        at once (`utils.run_lock`)."""
        with RunLock(self.write_dir, "training run"):
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
                entry = {"step": step, **{k: float(v) for k, v in (logs or {}).items()}}
                entry["learning_rate"] = float(
                    keras.ops.convert_to_numpy(outer.optimizer.learning_rate))
                log.append(entry)
                with learning_rate_writer.as_default():
                    tf.summary.scalar("learning_rate", entry["learning_rate"], step=step)
                # The log entry first, then the checkpoint: a run killed in
                # between resumes from the previous checkpoint and drops the
                # entry; the other order would lose the entry of a
                # checkpoint that exists.
                outer._write_log(log)
                outer.writer.save(step)
                # Every worker evaluates: under MultiWorkerMirroredStrategy
                # reading variables outside a replica is a collective.
                if trainer.eval_every and step % trainer.eval_every == 0:
                    evaluation.update(outer.evaluate(step))
                    entry.update({k: v for k, v in evaluation.items()
                                  if isinstance(v, float)})
                    outer._write_log(log)

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
            log = self._read_log()
            if log and log[-1]["step"] == final_step:  # for curves.png
                log[-1].update({k: v for k, v in evaluation.items() if isinstance(v, float)})
                self._write_log(log)
        results.update(evaluation)
        write_bytes(os.path.join(self.write_dir, "metrics.json"),
                    json.dumps(results, indent=2).encode())
        save_keras_model(self.model, os.path.join(self.write_dir, checkpoints.MODEL_FILE))
        visualization.plot_training_curves(
            self._read_log(), os.path.join(self.write_dir, "curves.png"),
            self.task.metric_names)
        self.task.write_artifacts(self.model, self.write_dir)
        return results
