"""Object detection: COCO / TFRecord inputs, COCO AP, pictures; the task of
every detector family."""

import os

import numpy as np

from spinenet_tf.data.coco import load_coco
from spinenet_tf.data.detection_input import (
    DetectionInput,
    examples_from_coco,
    examples_from_tfrecords,
)
from spinenet_tf.evaluation.detection_evaluation import EvaluationData, keras_detect
from spinenet_tf.evaluation.mask_pasting import paste_masks
from spinenet_tf.evaluation.visualization import draw_detections
from spinenet_tf.models.base.task import Task


class DetectionTask(Task):
    """A detector's experiment (RetinaNet's; the base of the instance
    segmentation task)."""

    # Whether the COCO annotations' masks are read (`load_coco(with_masks=...)`).
    with_masks = False
    metric_names = ("AP", "AP50", "AP75")

    # --- data ----------------------------------------------------------

    def examples(self, data):
        """Example dicts of a data config, its `CocoDataset` (or None for
        TFRecords) and whether sources are file paths. A COCO source's image
        files are checked first (`check_source_images`)."""
        if data.source == "coco":
            name = self.data_config_name(data)
            if not (data.annotations and data.image_dir):
                raise ValueError(f"A 'coco' source needs `annotations` and `image_dir`; "
                                 f"{name} has annotations={data.annotations!r}, "
                                 f"image_dir={data.image_dir!r}.")
            key = (data.annotations, data.image_dir)
            if key not in self._coco_files:  # read and checked once per task
                dataset = load_coco(data.annotations, data.image_dir, self.with_masks)
                self.check_source_images(data, [r.path for r in dataset.records])
                self.check_class_count(dataset, name)
                self._coco_files[key] = dataset
            dataset = self._coco_files[key]
            return examples_from_coco(dataset), dataset, True
        if data.source == "tfrecord":
            if not data.file_pattern:
                raise ValueError("A 'tfrecord' source needs `file_pattern`.")
            return examples_from_tfrecords(data.file_pattern, self.with_masks), None, False
        raise ValueError(
            f"Detection data must be 'coco' or 'tfrecord'; received {data.source!r}.")

    def check_class_count(self, dataset, name):
        """An error when the file's category ids do not fit the model's
        class slots (they would be dropped from the targets silently)."""
        needed, have = dataset.num_classes, self.config.model.num_classes
        if needed > have:
            raise ValueError(
                f"{name} ({dataset.annotation_file}) has category ids up to {needed - 1}, so "
                f"the model needs num_classes >= {needed} (ids + the background slot); "
                f"model.num_classes is {have}. Set --set model.num_classes={needed}.")

    def check_data(self):
        """Reads and checks `train_data` and `eval_data` (COCO files and
        their images, TFRecord patterns) before a model is built."""
        for data in (self.config.train_data, self.config.eval_data):
            self.examples(data)

    def input_parser(self, model, data, training, sources_are_paths=True):
        return DetectionInput(
            model.preprocessor, training, max_boxes=data.max_boxes,
            aug_rand_hflip=data.aug_rand_hflip, aug_scale_min=data.aug_scale_min,
            aug_scale_max=data.aug_scale_max, seed=self.config.trainer.seed,
            strict=data.strict, sources_are_paths=sources_are_paths,
            shuffle_buffer=data.shuffle_buffer)

    def train_dataset(self, model, initial_step=0, input_context=None):
        data = self.config.train_data
        examples, _, are_paths = self.examples(data)
        parser = self.input_parser(model, data, True, are_paths)
        batch_size = (input_context.get_per_replica_batch_size(data.batch_size)
                      if input_context else data.batch_size)
        return parser(examples, batch_size, initial_step=initial_step,
                      input_context=input_context)

    # --- evaluation ----------------------------------------------------

    def evaluation_data(self, model):
        """`eval_data` through the model's evaluation geometry, with its COCO
        ground truth: what training evaluation, `--verify` and the int8 AP
        budget all score on (`spinenet_tf.evaluation.EvaluationData`)."""
        data = self.config.eval_data
        examples, coco, are_paths = self.examples(data)
        parser = self.input_parser(model, data, False, are_paths)
        if coco is None:
            return EvaluationData(parser(examples, data.batch_size), decode_log=parser.log)
        return EvaluationData(parser(examples, data.batch_size), coco.annotation_file,
                              coco.categories, coco.num_images, parser.log)

    def evaluate(self, model, progress=True):
        evaluation = self.evaluation_data(model)
        metrics = evaluation.evaluate(keras_detect(model),
                                      max_images=self.config.trainer.eval_max_images,
                                      progress=progress)
        if evaluation.decode_log.count:
            metrics["skipped_images"] = [name for name, _ in evaluation.decode_log.failures]
        return metrics

    def write_artifacts(self, model, folder, count=8):
        """`detections.png`: the first `count` validation images with their
        detections, and their masks where the model predicts masks (the
        evaluation's batch and compiled function: no retrace)."""
        evaluation = self.evaluation_data(model)
        images, targets, _ = next(iter(evaluation.dataset))
        info = np.asarray(targets["image_info"])[:count]
        detections = {k: np.asarray(v)[:count] for k, v in
                      keras_detect(model)(images, targets["image_info"]).items()}
        # Boxes in original pixels -> in the drawn model input.
        scale, offset = np.tile(info[:, 2], 2)[:, None], np.tile(info[:, 3], 2)[:, None]
        detections["detection_boxes"] = detections["detection_boxes"] * scale - offset
        pixels = np.clip(model.preprocessor.denormalize(np.asarray(images)[:count]), 0, 255)
        masks = None
        if "detection_masks" in detections:
            masks = [paste_masks(m, b, *pixels.shape[1:3]) for m, b in zip(
                detections["detection_masks"], detections["detection_boxes"])]
        names = ({c["id"]: c.get("name", str(c["id"])) for c in evaluation.categories}
                 if evaluation.categories else None)
        draw_detections(pixels.astype("uint8"), detections,
                        os.path.join(folder, "detections.png"), names, masks=masks)
