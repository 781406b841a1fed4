"""What the model families build on: the model base (`FamilyModel`), the
task bases (`Task`, `DetectionTask`, `InstanceSegmentationTask`)."""

from spinenet_tf.models.base.detection_task import DetectionTask
from spinenet_tf.models.base.family_model import FamilyModel, FunctionalFamilyModel
from spinenet_tf.models.base.instance_segmentation_task import InstanceSegmentationTask
from spinenet_tf.models.base.task import Task, task_for_config

__all__ = ["DetectionTask", "FamilyModel", "FunctionalFamilyModel",
           "InstanceSegmentationTask", "Task", "task_for_config"]
