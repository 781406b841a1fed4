"""One task per job: detection, classification and instance segmentation
(see `Task`)."""

from spinenet_tf.tasks.classification_task import ClassificationTask
from spinenet_tf.tasks.detection_task import DetectionTask
from spinenet_tf.tasks.instance_segmentation_task import InstanceSegmentationTask
from spinenet_tf.tasks.task import Task

TASKS = {"retinanet": DetectionTask, "classifier": ClassificationTask,
         "maskrcnn": InstanceSegmentationTask}


def task_for_config(config):
    """The task of `config.model.type`."""
    if config.model.type not in TASKS:
        raise ValueError(f"model.type must be one of {sorted(TASKS)}; received "
                         f"{config.model.type!r}.")
    return TASKS[config.model.type](config)


__all__ = ["ClassificationTask", "DetectionTask", "InstanceSegmentationTask", "TASKS", "Task",
           "task_for_config"]
