"""A job an experiment config describes: what its model, inputs, evaluation
and export forms are. The trainer, the export command and the demo ask the
experiment's task (`registry.get_family(model.type).task_class`) instead
of switching on the model's family."""

import json
import os

from spinenet_tf import registry
from spinenet_tf.data.image_files import check_image_files


def task_for_config(config):
    """The task of `config`'s model family (`registry`), made from it."""
    return registry.get_family(config.model.type).task_class(config)


class Task:
    """Base of the tasks (`DetectionTask`, `InstanceSegmentationTask`,
    `ClassificationTask`).

    A task is made from an `ExperimentConfig` (`task_for_config`) and
    answers: which network (`build_network`), how it is compiled
    (`compile_model`), which training stream (`train_dataset`), how it is
    evaluated (`evaluate`) and which of its metrics are the headline
    (`metric_names`), which pictures a finished run gets (`write_artifacts`),
    what data scores its exports (`evaluation_data`) and which exports it
    takes (`check_export`).
    """

    def __init__(self, config):
        self.config = config
        self._checked_sources = set()
        self._coco_files = {}

    def data_config_name(self, data):
        """"train_data" or "eval_data": which section of the config `data` is."""
        return "train_data" if data is self.config.train_data else "eval_data"

    def check_source_images(self, data, paths):
        """Checks the image files of the data config `data` once per task
        (`spinenet_tf.data.image_files.check_image_files`): a missing folder,
        or more unreadable images than `max_unreadable_fraction`, is an
        error before any training step."""
        key = (data.image_dir, len(paths), data.max_unreadable_fraction)
        if key in self._checked_sources:
            return
        check_image_files(paths, data.image_dir, data.max_unreadable_fraction,
                          f"{self.data_config_name(data)}.image_dir")
        self._checked_sources.add(key)

    # --- the model -----------------------------------------------------

    def build_network(self):
        """The config's network with fresh weights: its family's `model:`
        section built with the `losses:` section (the one construction
        path; `training.model_building` adds `init_from` and the rest)."""
        return self.config.model.build(losses=self.config.losses)

    def compile_model(self, model, optimizer):
        """Compiles `model` for `fit` with the trainer's settings."""
        model.compile(optimizer=optimizer, jit_compile=self.config.trainer.jit_compile)

    # --- data and evaluation -------------------------------------------

    def check_data(self):
        """Checks the data sources before any model is built: an error names
        what is wrong (`spinenet_tf.data.image_files`, the COCO reader)."""
        raise NotImplementedError

    def train_dataset(self, model, initial_step=0, input_context=None):
        """The endless training stream, `initial_step` batches in."""
        raise NotImplementedError

    # The headline metrics of `evaluate`: printed after each evaluation,
    # plotted in curves.png.
    metric_names = ()

    def evaluate(self, model, progress=True):
        """Metrics of `model` on `eval_data` (a dict of floats and lists)."""
        raise NotImplementedError

    def write_artifacts(self, model, folder):
        """Pictures of a finished run (none by default)."""

    def evaluation_data(self, model):
        """`eval_data` in the model's evaluation geometry with its COCO
        ground truth (`spinenet_tf.evaluation.EvaluationData`): what
        `--verify` and the int8 AP budget score exports on. Detection
        tasks have it; others raise, saying so."""
        raise ValueError(
            f"--verify and the int8 AP budget score detection exports by COCO AP; this "
            f"is a {self.config.model.type!r} experiment.")

    # --- export ----------------------------------------------------------

    def check_export(self, tflite=None):
        """Raises, saying why, if this task's models cannot be exported in
        the forms asked for (`tflite`: the `.tflite` kinds, if any)."""

    def calibration_folder(self):
        """Images an int8 export calibrates on by default: the training images."""
        return self.config.train_data.image_dir

    def class_names(self, num_classes):
        """Names of the foreground classes 1..num_classes-1 (as a detection
        `.tflite` numbers them from 0), for its label file: the evaluation
        data's COCO categories where it has them, else "class_<id>"."""
        data = self.config.eval_data
        names = {}
        if data.source == "coco" and data.annotations and not os.path.exists(
                data.annotations):
            print(f"Labels are class_<id>: eval_data.annotations {data.annotations!r} "
                  "(for the category names) does not exist")
        elif data.source == "coco" and data.annotations:
            with open(data.annotations) as f:
                names = {c["id"]: c["name"] for c in json.load(f).get("categories", [])}
        return [names.get(k, f"class_{k}") for k in range(1, num_classes)]
